//! The guards: one per function, each declared once in its own module here.
//!
//! Every file in this folder other than this one is a guard module with a
//! `pub static GUARD: GuardSpec`: its name, its function, the EventBridge rules that trigger
//! it, the facts it may ask for, the action types it may plan, and the policy settings only it
//! reads (its `Settings`); and a `pub static DECIDER: Decider`, its decision functions.
//! The build script lists the files and writes the module declarations, [`ALL`] and
//! [`DECIDERS`], so a new guard is one new file here and nothing else in this crate.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::action::ActionInfo;
use crate::decision::{Decision, GuardId, Verdict};
use crate::event::{CloudTrailRecord, Event, DETAIL_TYPE_API_CALL};
use crate::facts::{FactKind, Facts};
use crate::ops;
use crate::pattern::Pattern;
use crate::policy::{Mode, Policy, SettingsSpec};
use crate::state::{State, StateKind};

include!(concat!(env!("OUT_DIR"), "/guards.rs"));

/// Which management events a rule receives. EventBridge delivers read-only CloudTrail calls
/// (`readOnly: true`: Describe*, Get*, List*, sts:GetCallerIdentity) only to rules whose state
/// is `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`; those are high volume, so only rules
/// that must see reads (a honeytoken's first call is usually one) ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// State `ENABLED`: changes only.
    Changes,
    /// State `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`: reads too.
    ChangesAndReads,
}

impl Delivery {
    pub fn state(self) -> &'static str {
        match self {
            Delivery::Changes => "ENABLED",
            Delivery::ChangesAndReads => "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        }
    }
}

/// Which bus a rule listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bus {
    /// The bus CloudTrail, Health, GuardDuty and Security Hub deliver to (`EventBusName`: the
    /// default bus, or a central one).
    Main,
    /// The stack's own manual-trigger bus, which only `ManualTriggerPrincipals` may put on.
    ManualTrigger,
}

/// One EventBridge rule that invokes a guard's function.
#[derive(Debug)]
pub struct Trigger {
    /// The rule's name in template.yaml (the SAM event name, or the resource's logical id).
    pub rule: &'static str,
    /// The event pattern as JSON. A string `"{{Name}}"` in a list stands for the template
    /// parameter `Name` (a list of values the user gives at deploy time).
    pub pattern: &'static str,
    pub delivery: Delivery,
    /// The bus the rule listens on.
    pub bus: Bus,
    /// Whether the template adds the clause that leaves out calls made by trailguard's own
    /// role (it names the role, which only the template knows).
    pub excludes_own_role: bool,
    /// The template condition that creates the rule, when it exists only on request.
    pub condition: Option<&'static str>,
}

/// One guard: everything the rest of trailguard needs to know about it.
pub struct GuardSpec {
    /// The policy's name for it (`mode.<name>`) and the report's `guard`.
    pub name: &'static str,
    /// The function (crate, binary and template resource) that runs it.
    pub function: &'static str,
    pub summary: &'static str,
    pub triggers: &'static [Trigger],
    /// The facts it may ask for (each looked up with one read-only call).
    pub facts: &'static [FactKind],
    /// The action types it may plan.
    pub actions: &'static [&'static ActionInfo],
    /// A guard that reads every CloudTrail call (the access-key guard) comes after those
    /// that read one kind of call, when [`crate::decide`] merges their decisions.
    pub reads_every_call: bool,
    /// The blast-radius breaker's default: at most this many mutating actions in any hour,
    /// across every container and account (`max_actions_per_hour.<name>` overrides it; 0
    /// for a guard that never acts). A real incident stays far below it; a flood of forged
    /// or replayed events, or a bad policy, does not.
    pub max_actions_per_hour: u32,
    /// What its reconciliation sweep lists (none: the guard has nothing to sweep, or a
    /// sweep could not tell a change from how things always were).
    pub sweeps: &'static [StateKind],
    /// The policy keys this guard alone reads, with their defaults and checks (its
    /// `Settings`, read back with `Policy::section`); none when it reads only shared ones.
    pub settings: Option<&'static SettingsSpec>,
    pub compiled: OnceLock<Vec<Option<Pattern>>>,
}

/// A guard's decisions, declared beside its [`GuardSpec`] in its module (`DECIDER`) and kept
/// apart from it: every function reads every guard's declaration (the policy may name them
/// all), but runs only its own guard, so a function's binary, which names only its own
/// `DECIDER`, links only its own guard's decision code. Only what decides across guards (the
/// CLI, the backtest, the tests) reads [`DECIDERS`].
pub struct Decider {
    /// The guard these decisions are for.
    pub guard: &'static GuardSpec,
    /// Its decision on an event.
    pub event: fn(&Event, &Policy, &Facts) -> Verdict,
    /// Its decision on one resource its sweep lists, as it is now (None: it does not sweep).
    /// The sweep runs it through [`crate::sweep::decide_state`], which adds scope and mode.
    pub state: Option<DecideState>,
}

impl Decider {
    /// Every guard's decisions, in [`Guard::all`]'s order (those that read every call last).
    pub fn all() -> impl Iterator<Item = &'static Decider> {
        let specific = DECIDERS.iter().filter(|d| !d.guard.reads_every_call);
        let general = DECIDERS.iter().filter(|d| d.guard.reads_every_call);
        specific.chain(general).copied()
    }

    pub fn by_name(name: &str) -> Option<&'static Decider> {
        Decider::all().find(|d| d.guard.name == name)
    }

    pub fn from_function_name(name: &str) -> Option<&'static Decider> {
        Decider::all().find(|d| d.guard.function == name)
    }

    /// The decisions of `guard`.
    pub fn of(guard: Guard) -> Option<&'static Decider> {
        Decider::all().find(|d| std::ptr::eq(d.guard, guard.0))
    }

    pub fn guard(&self) -> Guard {
        Guard(self.guard)
    }
}

impl fmt::Debug for Decider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decider({})", self.guard.name)
    }
}

/// A sweeping guard's decision on one resource: the resource as listed, the account swept
/// (trusted-set checks need it), the policy, the facts looked up so far.
pub type DecideState = fn(&State, Option<&str>, &Policy, &Facts) -> Verdict;

/// What a sweeping guard answers for a kind of resource it does not sweep.
pub fn not_swept(guard: &str, state: &State) -> Verdict {
    Verdict::Decided(Decision::ignore(format!(
        "guard {guard} does not sweep {} ({})",
        state.id(),
        state.kind().name()
    )))
}

/// A guard, by reference to its declaration. Compared, hashed and serialised by name.
#[derive(Clone, Copy)]
pub struct Guard(pub &'static GuardSpec);

impl Guard {
    /// Every guard, those that read every call last.
    pub fn all() -> impl Iterator<Item = Guard> {
        let specific = ALL.iter().filter(|g| !g.reads_every_call);
        let general = ALL.iter().filter(|g| g.reads_every_call);
        specific.chain(general).map(|g| Guard(g))
    }

    pub fn by_name(name: &str) -> Option<Guard> {
        Guard::all().find(|g| g.name() == name)
    }

    pub fn from_function_name(name: &str) -> Option<Guard> {
        Guard::all().find(|g| g.function_name() == name)
    }

    pub fn function_names() -> String {
        Guard::all()
            .map(|g| g.function_name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The names a decision carries.
    pub fn id(self) -> GuardId {
        GuardId {
            name: self.0.name,
            function: self.0.function,
        }
    }

    pub fn spec(self) -> &'static GuardSpec {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn function_name(self) -> &'static str {
        self.0.function
    }

    /// The mode this guard runs in by the policy (`mode.<name>`, else `mode.default`; a
    /// dry-run ceiling wins).
    pub fn mode(self, policy: &Policy) -> Mode {
        policy.mode(self.name())
    }

    /// The mode this guard runs in for an event from `account` (`mode_by_account` first).
    pub fn mode_in(self, policy: &Policy, account: Option<&str>) -> Mode {
        policy.mode_in(self.name(), account)
    }

    /// This guard's breaker limit: the policy's `max_actions_per_hour.<name>`, else its
    /// declared default. 0: no limit.
    pub fn max_actions_per_hour(self, policy: &Policy) -> u32 {
        policy.max_actions_per_hour(self.name(), self.0.max_actions_per_hour)
    }

    /// Every IAM action this guard's function can call: its actions' operations, its fact
    /// lookups, and notification. template.yaml grants exactly these (a test checks).
    pub fn iam_actions(self) -> BTreeSet<&'static str> {
        self.member_iam_actions()
            .into_iter()
            // The organization's accounts are looked up in the function's own account.
            .chain(
                self.0
                    .facts
                    .iter()
                    .filter(|f| matches!(f, crate::facts::FactKind::OrganizationAccounts))
                    .flat_map(|f| f.ops().iter().map(|o| o.iam)),
            )
            .chain(
                self.0
                    .sweeps
                    .iter()
                    .flat_map(|k| k.ops().iter().map(|o| o.iam)),
            )
            .chain(ops::NOTIFY.iter().map(|o| o.iam))
            // A guard that acts counts its actions in the ledger (breaker, exactly-once).
            .chain(
                (!self.0.actions.is_empty())
                    .then_some(ops::LEDGER.iter().map(|o| o.iam))
                    .into_iter()
                    .flatten(),
            )
            .collect()
    }

    /// The IAM actions this guard's function calls in the account an event is about: its
    /// actions and fact lookups, without what it does only in its own account (notifying,
    /// the ledger, the sweep, organization lookups). A central deployment's member role
    /// grants the union of these over all guards (member.yaml; a test compares).
    pub fn member_iam_actions(self) -> BTreeSet<&'static str> {
        self.0
            .actions
            .iter()
            .flat_map(|a| a.ops.iter().map(|o| o.iam))
            .chain(
                self.0
                    .facts
                    .iter()
                    .filter(|f| !matches!(f, crate::facts::FactKind::OrganizationAccounts))
                    .flat_map(|f| f.ops().iter().map(|o| o.iam)),
            )
            // Every notice names the account by its alias, read where the event happened.
            .chain([ops::LIST_ACCOUNT_ALIASES.iam])
            // The finding an event carried is updated where it lives (finding.rs).
            .chain(
                self.takes_findings()
                    .then_some(ops::SECURITYHUB_BATCH_UPDATE_FINDINGS.iam),
            )
            // A GuardDuty finding is archived where it was delivered (finding.rs).
            .chain(
                self.takes_guardduty_findings()
                    .then_some([
                        ops::GUARDDUTY_LIST_DETECTORS.iam,
                        ops::GUARDDUTY_ARCHIVE_FINDINGS.iam,
                    ])
                    .into_iter()
                    .flatten(),
            )
            .collect()
    }

    /// Whether a rule of this guard delivers GuardDuty's own findings (which the function
    /// archives once contained, when the policy asks).
    pub fn takes_guardduty_findings(self) -> bool {
        self.0
            .triggers
            .iter()
            .any(|t| t.pattern.contains(r#""GuardDuty Finding""#))
    }

    /// Whether a rule of this guard delivers Security Hub findings (whose finding the
    /// function updates once it has acted).
    pub fn takes_findings(self) -> bool {
        self.0
            .triggers
            .iter()
            .any(|t| t.pattern.contains(r#""Security Hub Findings - Imported""#))
    }

    /// Whether one of this guard's rules on the main bus delivers the event, as deployed with
    /// this policy (the template gives its parameters to both): the rule exists, its pattern
    /// matches, and read-only calls come only through rules that receive them.
    pub fn applies(self, event: &Event, policy: &Policy) -> bool {
        self.applies_on(Bus::Main, event, policy)
    }

    /// Whether one of its rules on any bus delivers the event: what the function itself can
    /// tell (it does not learn which bus delivered; the manual-trigger bus's policy decides
    /// who may put events there).
    pub fn applies_anywhere(self, event: &Event, policy: &Policy) -> bool {
        self.applies_on(Bus::Main, event, policy)
            || self.applies_on(Bus::ManualTrigger, event, policy)
    }

    /// [`Guard::applies`], for an event put on `bus`.
    pub fn applies_on(self, bus: Bus, event: &Event, policy: &Policy) -> bool {
        let compiled = self.0.compiled.get_or_init(|| {
            self.0
                .triggers
                .iter()
                .map(|t| Pattern::parse(&t.pattern_json()).ok())
                .collect()
        });
        let read_only = is_read_only_call(&event.raw);
        let params = |name: &str| policy.template_parameter(name);
        // The template leaves out calls by trailguard's own role; the policy lists the roles.
        let by_own_role = event.cloudtrail().is_some_and(|r| {
            policy.own_roles.iter().any(|own| is_own_role(r, own))
                || member_role_session(r, policy).is_some()
        });
        self.0.triggers.iter().zip(compiled).any(|(t, p)| {
            t.bus == bus
                && t.condition.is_none_or(|c| policy.template_condition(c))
                && (!read_only || t.delivery == Delivery::ChangesAndReads)
                && !(t.excludes_own_role && by_own_role)
                && p.as_ref()
                    .is_some_and(|p| p.matches_with(&event.raw, &params))
        })
    }

    /// The rules this guard's function needs, as `trailguard patterns` prints them.
    pub fn patterns(self) -> Vec<Value> {
        self.0
            .triggers
            .iter()
            .map(|t| {
                json!({
                    "rule": t.rule,
                    "bus": t.bus,
                    "state": t.delivery.state(),
                    "excludes_own_role": t.excludes_own_role,
                    "condition": t.condition,
                    "pattern": t.pattern_json(),
                })
            })
            .chain(std::iter::once(json!({
                "rule": self.approval_rule(),
                "bus": Bus::ManualTrigger,
                "state": Delivery::Changes.state(),
                "excludes_own_role": false,
                "condition": APPROVAL_CONDITION,
                "pattern": self.approval_pattern(),
            })))
            .collect()
    }

    /// The rule that brings this function a person's approval of one of its plans (mode
    /// `approve`, approval.rs), on the manual-trigger bus: every function has one, named
    /// after its template resource (`RevertSecurityGroupApprovalRule`).
    pub fn approval_rule(self) -> String {
        format!("{}ApprovalRule", self.camel_name())
    }

    /// The function's name in CamelCase (`revert-security-group` → `RevertSecurityGroup`), as
    /// template.yaml's logical ids start.
    pub fn camel_name(self) -> String {
        self.function_name()
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// That rule's pattern: trailguard's approvals naming this function (the function checks
    /// the plan it kept names it too).
    pub fn approval_pattern(self) -> Value {
        json!({
            "source": ["trailguard"],
            "detail-type": [crate::approval::DETAIL_TYPE],
            "detail": {"function": [self.function_name()]},
        })
    }

    /// Whether the approval rule delivers the event, as deployed with this policy.
    pub fn delivers_approval(self, event: &Event, policy: &Policy) -> bool {
        policy.template_condition(APPROVAL_CONDITION)
            && Pattern::parse(&self.approval_pattern())
                .is_ok_and(|p| p.matches_with(&event.raw, &|_: &str| None))
    }
}

/// Approvals come only on the manual-trigger bus, which exists only with
/// ManualTriggerPrincipals.
const APPROVAL_CONDITION: &str = "HasManualTrigger";

/// Whether EventBridge treats the event as a read-only management call.
pub fn is_read_only_call(raw: &Value) -> bool {
    raw.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE_API_CALL)
        && crate::lenient::boolean(&raw["detail"]["readOnly"]) == Some(true)
}

impl Trigger {
    /// The pattern as JSON; `"{{Name}}"` placeholders are kept.
    pub fn pattern_json(&self) -> Value {
        serde_json::from_str(self.pattern).unwrap_or(Value::Null)
    }
}

impl PartialEq for Guard {
    fn eq(&self, other: &Guard) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Guard {}

impl std::hash::Hash for Guard {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name().hash(h)
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Guard {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// CloudTrail also writes records about a call that are not the call: the VPC endpoint's
/// view of it (`AwsVpceEvent`), records of what a service did (`AwsServiceEvent`), Insights.
/// Only the call itself (`AwsApiCall`, and `AwsConsoleSignIn` for a sign-in) is acted on; a
/// record without an event type (old records) is taken as the call.
pub(crate) fn not_the_call(r: &CloudTrailRecord) -> Option<Decision> {
    let t = r.event_type.get()?;
    (!["AwsApiCall", "AwsConsoleSignIn"].contains(&t)).then(|| {
        Decision::ignore(format!(
            "a CloudTrail {t} record is about a call, not the call itself: only AwsApiCall and AwsConsoleSignIn records are acted on"
        ))
    })
}

/// One of Security Hub's own control findings about `controls`, live and FAILED: the
/// finding, its control id and the reason reports give ("Security Hub S3.8: <title>").
/// Anything else is the decision to ignore the event, saying why (`about`: what the
/// controls are about, for that message). Only Security Hub's own findings count: an
/// imported finding carries its importer's product ARN, whatever control id it claims.
/// The account a control finding about an account (`AwsAccount`, `AWS::::Account:<id>`) is
/// about, which must be the event's: the function acts in the event's account, and a finding
/// about another is not its own.
pub(crate) fn finding_account<'a>(
    event: &'a Event,
    f: &crate::event::AsffFinding,
    control: &str,
) -> Result<&'a str, Box<Verdict>> {
    let ignore = |why: String| Box::new(Verdict::Decided(Decision::ignore(why)));
    let Some(account) = event.account().filter(|a| crate::ids::is_account_id(a)) else {
        return Err(ignore(format!("{control} finding names no account")));
    };
    let named = f
        .resources
        .iter()
        .filter(|r| r.resource_type.get() == Some("AwsAccount"))
        .filter_map(|r| r.id.get())
        .filter_map(|id| id.rsplit(':').next())
        .find(|id| crate::ids::is_account_id(id));
    if let Some(other) = named.filter(|n| *n != account) {
        return Err(ignore(format!(
            "{control} finding is about account {other}, not the event's account {account}"
        )));
    }
    Ok(account)
}

pub(crate) fn failed_control<'a>(
    d: &'a crate::event::SecurityHubDetail,
    controls: &[&str],
    about: &str,
) -> Result<(&'a crate::event::AsffFinding, String, String), Box<Verdict>> {
    let ignore = |why: String| Box::new(Verdict::Decided(Decision::ignore(why)));
    let found = d.findings.iter().find_map(|f| {
        let control = f.control_id().filter(|c| controls.contains(&c.as_str()))?;
        f.is_aws_product("securityhub").then_some((f, control))
    });
    let Some((f, control)) = found else {
        return Err(ignore(format!(
            "no Security Hub finding (product aws/securityhub) about {about} trailguard acts on"
        )));
    };
    if let Some(why) = f.closed() {
        return Err(ignore(format!("{control} finding is closed: {why}")));
    }
    if f.compliance_status().as_deref() != Some("FAILED") {
        return Err(ignore(format!(
            "{control} finding is not FAILED ({})",
            f.compliance_status().unwrap_or_else(|| "no status".into())
        )));
    }
    let why = format!(
        "Security Hub {control}: {}",
        f.title.get().unwrap_or("control failed")
    );
    Ok((f, control, why))
}

/// The checks every guard of a CloudTrail change makes first: the record is not the call
/// itself, the call failed (nothing changed), the change is trailguard's own (acting on it
/// would loop), or the principal is exempt by policy.
pub(crate) fn preamble(r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Option<Decision> {
    if let Some(d) = not_the_call(r) {
        return Some(d);
    }
    if let Some(code) = r.error_code.get() {
        return Some(Decision::ignore(format!(
            "the call failed ({code}): nothing changed"
        )));
    }
    if let Some(own) = own_role(r, policy, facts) {
        return Some(Decision::ignore(format!(
            "the change was made by trailguard's own role {own}: acting on it would loop"
        )));
    }
    if let Some(p) = policy.is_exempt_principal(&r.user_identity.arns()) {
        return Some(Decision::ignore(format!(
            "principal {} is exempt by policy pattern `{p}`",
            r.user_identity.display()
        )));
    }
    None
}

/// The accounts among `accounts` that are outside the trusted set: not the account the event
/// is about, not one of the policy's `trusted_accounts`, and, when the policy names an
/// `organization_id`, not one of its accounts (looked up once, as a fact, only when an
/// account is not trusted otherwise).
pub(crate) fn outside_accounts(
    account: Option<&str>,
    accounts: &[String],
    policy: &Policy,
    facts: &Facts,
) -> crate::facts::Known<Vec<String>> {
    use crate::facts::Known;
    let candidates: Vec<String> = accounts
        .iter()
        .filter(|a| Some(a.as_str()) != account && !policy.trusted_accounts.contains(a))
        .cloned()
        .collect();
    if candidates.is_empty() || policy.organization_id.is_empty() {
        return Known::Yes(candidates);
    }
    match facts.organization_accounts() {
        Known::Need(r) => Known::Need(r),
        Known::Yes(org) => Known::Yes(
            candidates
                .into_iter()
                .filter(|a| !org.contains(a))
                .collect(),
        ),
    }
}

/// Whether an organization or OU ARN (`arn:aws:organizations::111122223333:organization/o-x`,
/// `...:ou/o-x/ou-y`) belongs to the policy's organization.
pub(crate) fn own_organization(arn: &str, policy: &Policy) -> bool {
    !policy.organization_id.is_empty()
        && arn
            .split(['/', ':'])
            .any(|part| part == policy.organization_id)
}

/// The trailguard role that made this call, if one did: the running function's own role,
/// one the policy lists in `own_roles` (exact role ARNs), or a central deployment's member
/// role in a member account.
pub(crate) fn own_role(r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Option<String> {
    facts
        .own_role_arn
        .iter()
        .chain(policy.own_roles.iter())
        .find(|own| is_own_role(r, own))
        .cloned()
        .or_else(|| member_role_session(r, policy))
}

/// Whether the role `name` in `account` is trailguard's own: the running function's role, one
/// of the policy's `own_roles`, or a central deployment's member role in a member account
/// (as `own_role` and `member_role_session` judge a caller). Never revoked or contained.
pub(crate) fn is_trailguard_role(
    account: &str,
    name: &str,
    policy: &Policy,
    facts: &Facts,
) -> bool {
    let listed = facts
        .own_role_arn
        .iter()
        .chain(policy.own_roles.iter())
        .filter_map(|arn| role_parts(arn))
        .any(|(a, n)| a == account && n == name);
    let member = policy.member_role().is_some_and(|m| {
        m.name == name
            && m.home_account
                .as_deref()
                .is_some_and(|home| home != account)
    });
    listed || member
}

/// Whether the record's caller is the given role (by its role ARN, with or without a path),
/// through its session issuer or its assumed-role ARN: the same name in the same account,
/// never a name alone (anyone can create a role of any name in their own account).
pub fn is_own_role(r: &CloudTrailRecord, own_role_arn: &str) -> bool {
    let Some((own_account, own_name)) = role_parts(own_role_arn) else {
        return false;
    };
    crate::ids::is_account_id(own_account)
        && caller_role(r).is_some_and(|(a, n)| a == own_account && n == own_name)
}

/// The member role of a central deployment, when it made this call in a member account:
/// its ARN there. A role of that name in the central account itself, or anywhere when the
/// deployment is not central (no member role) or its own account is unknown, is someone
/// else's. Only the organization's accounts can put events on the central bus, so any other
/// account an event comes from is a member.
pub fn member_role_session(r: &CloudTrailRecord, policy: &Policy) -> Option<String> {
    let member = policy.member_role()?;
    let home = member.home_account.as_deref()?;
    let (account, name) = caller_role(r)?;
    (name == member.name && account != home && crate::ids::is_account_id(account))
        .then(|| format!("arn:aws:iam::{account}:role/{name}"))
}

/// (account, role name) of the role whose session made the call: the session issuer's role
/// ARN (CloudTrail writes it), or the assumed-role ARN
/// (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`; the session name is the caller's choice
/// and never read).
fn caller_role(r: &CloudTrailRecord) -> Option<(&str, &str)> {
    let id = &r.user_identity;
    if let Some(parts) = id
        .session_context
        .session_issuer
        .arn
        .get()
        .and_then(role_parts)
    {
        return Some(parts);
    }
    let a = id.arn.get()?;
    let f: Vec<&str> = a.splitn(6, ':').collect();
    if f.len() != 6 || f[2] != "sts" {
        return None;
    }
    let name = f[5].strip_prefix("assumed-role/")?.split('/').next()?;
    Some((f[4], name))
}

/// (account, role name) of `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
pub(crate) fn role_parts(arn: &str) -> Option<(&str, &str)> {
    let f: Vec<&str> = arn.splitn(6, ':').collect();
    if f.len() != 6 || f[2] != "iam" {
        return None;
    }
    let name = f[5].strip_prefix("role/")?.rsplit('/').next()?;
    Some((f[4], name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_sweeps_exactly_when_it_declares_how_to_decide_a_swept_resource() {
        for d in Decider::all() {
            assert_eq!(
                d.guard.sweeps.is_empty(),
                d.state.is_none(),
                "{}: sweeps {:?}",
                d.guard(),
                d.guard.sweeps
            );
        }
    }

    #[test]
    fn every_guard_has_exactly_its_own_decisions() {
        let guards: Vec<Guard> = Guard::all().collect();
        let decided: Vec<Guard> = Decider::all().map(|d| d.guard()).collect();
        assert_eq!(guards, decided);
        for g in Guard::all() {
            let d = Decider::of(g).unwrap_or_else(|| panic!("{g}: no DECIDER"));
            assert!(std::ptr::eq(d.guard, g.spec()), "{g}");
            assert_eq!(Decider::by_name(g.name()).map(|d| d.guard()), Some(g));
        }
    }

    #[test]
    fn every_pattern_parses_and_names_are_unique() {
        let mut names = BTreeSet::new();
        let mut functions = BTreeSet::new();
        let mut rules = BTreeSet::new();
        for g in Guard::all() {
            assert!(names.insert(g.name()), "{g}: name used twice");
            assert!(
                functions.insert(g.function_name()),
                "{g}: function used twice"
            );
            assert!(!g.spec().triggers.is_empty(), "{g}: no trigger");
            for t in g.spec().triggers {
                assert!(rules.insert(t.rule), "{}: rule name used twice", t.rule);
                Pattern::parse(&t.pattern_json()).unwrap_or_else(|e| panic!("{g} {}: {e}", t.rule));
            }
        }
        assert!(names.len() >= 4);
    }

    #[test]
    fn guards_reading_every_call_come_last() {
        let order: Vec<bool> = Guard::all().map(|g| g.spec().reads_every_call).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    }
}
