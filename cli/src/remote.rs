//! The commands that talk to AWS: the manual trigger, and closing a breaker. They use the
//! usual credential chain and region, and `AWS_ENDPOINT_URL` like the functions.

use std::process::ExitCode;

use serde_json::json;
use trailguard_aws::LedgerPort;
use trailguard_rules::ids::is_access_key_id;
use trailguard_rules::Guard;

/// The flags given, as `(--name, value)` pairs (clap parsed them; the checks and their
/// messages are here).
pub(crate) fn given(flags: &[(&'static str, Option<String>)]) -> Vec<(&'static str, String)> {
    flags
        .iter()
        .filter_map(|(name, v)| Some((*name, v.clone()?)))
        .collect()
}

pub(crate) fn get<'a>(flags: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    flags
        .iter()
        .find(|(f, _)| *f == name)
        .map(|(_, v)| v.as_str())
}

pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// `trailguard disable-key --access-key-id AKIA… --reason "…" [--bus NAME] [--user NAME]`:
/// put the manual "Disable Access Key" event on the stack's manual-trigger bus. The key is
/// looked up first, so a key that is not in the account is an error here, not a notice later.
pub fn disable_key(f: &[(&'static str, String)]) -> Result<ExitCode, String> {
    let key = get(f, "--access-key-id").ok_or("--access-key-id is required")?;
    if !is_access_key_id(key) {
        return Err(format!(
            "--access-key-id `{key}` is not an access key id (AKIA… or ASIA…, 16-128 upper-case letters and digits)"
        ));
    }
    let reason = get(f, "--reason").unwrap_or_default().trim();
    if reason.is_empty() {
        return Err("--reason is required: it is in the notification and the audit trail".into());
    }
    if reason.chars().count() > 512 {
        return Err("--reason is longer than 512 characters".into());
    }
    let bus = manual_bus(f)?;
    runtime()?.block_on(async {
        let sdk = trailguard_aws::sdk_config().await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        // The key's owner, as the function will find it: an unknown key stops here.
        let user = match iam
            .get_access_key_last_used()
            .access_key_id(key)
            .send()
            .await
        {
            Ok(o) => o.user_name().map(String::from),
            Err(e) => {
                let code = trailguard_aws::error::code_of(&e).unwrap_or_default();
                if code == "NoSuchEntity" || code == "InvalidClientTokenId" {
                    return Err(format!("no access key {key} in this account ({code})"));
                }
                eprintln!(
                    "trailguard: could not look the key up ({code}); putting the event anyway"
                );
                None
            }
        };
        let user = get(f, "--user").map(String::from).or(user);
        let caller = caller_arn(&sdk).await;
        let detail = json!({
            "accessKeyId": key,
            "userName": user,
            "reason": reason,
            "requestedBy": caller,
        });
        let id = put_manual(&sdk, &bus, "Disable Access Key", &detail).await?;
        println!(
            "put event {id} on {bus}: disable-compromised-key will disable {key}{} and notify",
            user.as_deref()
                .map(|u| format!(" of {u}"))
                .unwrap_or_default()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// The caller's ARN, as STS names it (None: STS did not answer).
pub(crate) async fn caller_arn(sdk: &aws_config::SdkConfig) -> Option<String> {
    aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|o| o.arn().map(String::from))
}

/// The manual-trigger bus, from --bus or TRAILGUARD_MANUAL_BUS.
pub(crate) fn manual_bus(f: &[(&'static str, String)]) -> Result<String, String> {
    get(f, "--bus")
        .map(String::from)
        .or_else(|| env("TRAILGUARD_MANUAL_BUS"))
        .ok_or_else(|| {
            "--bus is required (the stack's ManualTriggerBusName output), or TRAILGUARD_MANUAL_BUS"
                .to_string()
        })
}

/// Put one `source: trailguard` event on the manual-trigger bus; its event id.
pub(crate) async fn put_manual(
    sdk: &aws_config::SdkConfig,
    bus: &str,
    detail_type: &str,
    detail: &serde_json::Value,
) -> Result<String, String> {
    let out = aws_sdk_eventbridge::Client::new(sdk)
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("trailguard")
                .detail_type(detail_type)
                .detail(detail.to_string())
                .event_bus_name(bus)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            format!(
                "PutEvents on {bus} failed: {}",
                trailguard_aws::error::classify(&trailguard_rules::ops::PUT_EVENTS, e)
            )
        })?;
    match out.entries().first() {
        Some(e) if e.error_code().is_some() => Err(format!(
            "PutEvents on {bus} refused the event: {} {} (is your principal in ManualTriggerPrincipals?)",
            e.error_code().unwrap_or_default(),
            e.error_message().unwrap_or_default()
        )),
        Some(e) => Ok(e.event_id().unwrap_or("?").to_string()),
        None => Err(format!("PutEvents on {bus} answered with no entry")),
    }
}

/// `trailguard breaker reset --guard NAME [--account ID] [--table NAME]`: forget a guard's
/// counts in one account (the caller's own when not given), so it acts there again.
pub fn breaker_reset(f: &[(&'static str, String)]) -> Result<ExitCode, String> {
    let name = get(f, "--guard").ok_or("--guard is required")?;
    let guard = Guard::by_name(name)
        .or_else(|| Guard::from_function_name(name))
        .ok_or_else(|| {
            format!(
                "no guard `{name}` (one of: {})",
                Guard::all()
                    .map(|g| g.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let table = get(f, "--table")
        .map(String::from)
        .or_else(|| env("TRAILGUARD_LEDGER_TABLE"))
        .ok_or(
            "--table is required (the stack's LedgerTableName output), or TRAILGUARD_LEDGER_TABLE",
        )?;
    let account = get(f, "--account");
    if let Some(a) = account {
        if !trailguard_rules::ids::is_account_id(a) {
            return Err(format!(
                "--account: `{a}` is not an AWS account id (12 digits)"
            ));
        }
    }
    runtime()?.block_on(async {
        let sdk = trailguard_aws::sdk_config().await;
        let account = match account {
            Some(a) => a.to_string(),
            None => trailguard_aws::config::discover_own_role(&sdk)
                .await
                .1
                .ok_or(
                    "--account is required: the caller's own account could not be read from STS",
                )?,
        };
        let ledger = aws_sdk_dynamodb::Client::new(&sdk);
        let scope = trailguard_aws::gate::breaker_scope(guard.name(), &account);
        let was = ledger
            .reset_breaker(&table, &scope)
            .await
            .map_err(|e| format!("{table}: {e}"))?;
        println!(
            "breaker of {} in {account} {}: it acts there again, counting from zero",
            guard.name(),
            if was { "closed" } else { "had nothing counted" },
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// How long a claim marked undone is kept: longer than any redelivery (EventBridge retries
/// for 24 hours, a failure queue keeps messages 14 days at most).
const UNDONE_KEPT_SECS: i64 = 30 * 86_400;

/// The remediation `trailguard undo` is told to undo.
pub enum Named {
    /// A report file ('-': standard input).
    Report(String),
    /// An event whose reports the ledger kept, and the function that acted on it.
    Event(String, Option<String>),
}

impl Named {
    fn label(&self) -> String {
        match self {
            Named::Report(f) => f.clone(),
            Named::Event(id, _) => format!("event {id}"),
        }
    }
}

fn read_report(file: &str) -> Result<serde_json::Value, String> {
    let text = if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("reading standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?
    };
    serde_json::from_str(text.trim()).map_err(|e| format!("{file}: not JSON: {e}"))
}

const TABLE_REQUIRED: &str = "--table is required (the stack's LedgerTableName output, or \
     TRAILGUARD_LEDGER_TABLE): each reversal is checked against what trailguard recorded \
     there";

/// `trailguard undo (--report FILE | --event-id ID) [--dry-run] [--table NAME | --unverified]
/// [--topic ARN]`: read the report (or the reports the ledger kept of the event), hold each
/// reversal to the one the ledger's claim keeps, check every action done against its
/// resource now, and undo them last first (undo.rs in shared/aws). The caller's credentials
/// must be of the account the report names: a name (a user, a bucket's block) means another
/// thing in another account. What was undone, and by whom, is recorded beside the event's
/// reports in the ledger and told to the topic.
pub fn undo(
    named: Named,
    dry_run: bool,
    table: Option<String>,
    ledger_region: Option<String>,
    unverified: bool,
    topic: Option<String>,
    member_role: Option<String>,
) -> Result<ExitCode, String> {
    if let Some(name) = &member_role {
        if !is_role_name(name) {
            return Err(format!(
                "--member-role: `{}` is not a role name (1 to 64 of A-Z a-z 0-9 + = , . @ _ -)",
                name.escape_debug()
            ));
        }
    }
    let from_file = match &named {
        Named::Report(file) => Some(read_report(file)?),
        Named::Event(id, function) => {
            if let Some(f) = function {
                if !Guard::all().any(|g| g.function_name() == f) {
                    return Err(format!(
                        "--function: no function `{f}` (one of {})",
                        Guard::function_names()
                    ));
                }
            }
            if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
                return Err(format!(
                    "--event-id: `{}` is not an event id (the report's `event_id`)",
                    id.escape_debug()
                ));
            }
            if table.is_none() {
                return Err(format!(
                    "{TABLE_REQUIRED}, and the event's reports are read from it"
                ));
            }
            None
        }
    };
    if let Some(v) = &from_file {
        let label = named.label();
        let plan = trailguard_rules::undo::plan(v).map_err(|e| format!("{label}: {e}"))?;
        if plan.steps.is_empty() {
            return Err(format!(
                "{label}: the report has no action done: nothing to undo ({} changed nothing)",
                plan.unchanged
            ));
        }
        if table.is_none() && !unverified {
            return Err(format!(
                "{TABLE_REQUIRED}; --unverified runs the report as it is, for a report whose \
                 source you trust"
            ));
        }
    }
    if let Some(t) = &topic {
        if sns_region(t).is_none() {
            return Err(format!("--topic: `{t}` is not an SNS topic ARN"));
        }
    }
    runtime()?.block_on(async {
        // The ledger is in the deployment's region (the usual configuration's, or
        // --ledger-region), which need not be the report's.
        let mut home = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(trailguard_aws::config::http_client())
            .timeout_config(trailguard_aws::config::timeouts());
        if let Some(r) = &ledger_region {
            home = home.region(aws_config::Region::new(r.clone()));
        }
        let home = home.load().await;
        let ledger = aws_sdk_dynamodb::Client::new(&home);
        let label = named.label();
        let value =
            match (from_file, &named, &table) {
                (Some(v), _, _) => v,
                (None, Named::Event(id, function), Some(table)) => {
                    // Each function keeps its own reports of an event: EventBridge gives every
                    // rule's target the same id, and one function's remediation is undone alone.
                    let mut found = vec![];
                    let mut names: Vec<&str> = Guard::all().map(|g| g.function_name()).collect();
                    names.sort_unstable();
                    names.dedup();
                    for f in names
                        .into_iter()
                        .filter(|f| function.as_deref().is_none_or(|w| w == *f))
                    {
                        let key = trailguard_aws::ledger::report_key(id, f);
                        let reports = ledger
                            .kept_reports(table, &key)
                            .await
                            .map_err(|e| format!("reading the ledger {table}: {e}"))?;
                        if !reports.is_empty() {
                            found.push((f, reports));
                        }
                    }
                    match found.as_slice() {
                        [] => trailguard_rules::undo::merge(id, &[])
                            .map_err(|e| format!("{label} in {table}: {e}"))?,
                        [(_, reports)] => trailguard_rules::undo::merge(id, reports)
                            .map_err(|e| format!("{label} in {table}: {e}"))?,
                        several => {
                            return Err(format!(
                            "{label}: {} functions acted on it ({}): name the one to undo with \
                             --function",
                            several.len(),
                            several.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
                        ))
                        }
                    }
                }
                _ => return Err(TABLE_REQUIRED.to_string()),
            };
        let mut plan = trailguard_rules::undo::plan(&value).map_err(|e| format!("{label}: {e}"))?;
        if plan.steps.is_empty() {
            return Err(format!("{label}: no action done: nothing to undo"));
        }
        let region = plan
            .region
            .clone()
            .filter(|r| trailguard_rules::event::is_region_name(r))
            .ok_or_else(|| {
                format!("{label}: the report does not say which region the remediation was done in")
            })?;
        // A central deployment: the person runs the undo from the home account (where the
        // ledger is), and its calls are made in the member account as the role named there.
        // The report is held to the ledger first: nothing reaches the member account for a
        // report the ledger refuses (clap keeps --member-role from --unverified).
        let verified_first = member_role.is_some();
        if let (true, Some(table)) = (verified_first, &table) {
            trailguard_aws::undo::verify(&ledger, table, &mut plan)
                .await
                .map_err(|e| format!("reading the ledger {table}: {e}"))?;
        }
        let (sdk, caller, acting) = match &member_role {
            Some(name) => {
                let member = plan
                    .account
                    .clone()
                    .filter(|a| trailguard_rules::ids::is_account_id(a))
                    .ok_or_else(|| {
                        format!(
                            "--member-role: the report's account `{}` is not an account id",
                            plan.account.as_deref().unwrap_or("").escape_debug()
                        )
                    })?;
                // STS in the home region (the member's may not be enabled here).
                let caller = who_is(&home).await?;
                let (sdk, acting) = as_member_role(&home, &caller, &member, name, &region).await?;
                (sdk, caller, Some(acting))
            }
            None => {
                let usual = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(trailguard_aws::config::http_client())
                    .timeout_config(trailguard_aws::config::timeouts())
                    .region(aws_config::Region::new(region))
                    .load()
                    .await;
                let caller = who_is(&usual).await?;
                (usual, caller, None)
            }
        };
        let account = acting
            .as_ref()
            .unwrap_or(&caller)
            .account()
            .unwrap_or_default()
            .to_string();
        let account = account.as_str();
        match plan.account.as_deref() {
            Some(a) if a == account => {}
            Some(a) => {
                return Err(format!(
                    "these credentials are of account {account}; the remediation was done in \
                     {a}: undo it with credentials of {a}"
                ))
            }
            None => {
                return Err(
                    "the report does not say which account the remediation was done in".into(),
                )
            }
        }
        if let (false, Some(table)) = (verified_first, &table) {
            trailguard_aws::undo::verify(&ledger, table, &mut plan)
                .await
                .map_err(|e| format!("reading the ledger {table}: {e}"))?;
        }
        let port = trailguard_aws::undo::SdkUndo::new(&sdk);
        let report = trailguard_aws::undo::undo(&port, &plan, dry_run).await;
        let by = caller.arn().unwrap_or("?");
        let now = trailguard_aws::system_clock();
        let mut out = serde_json::to_value(&report).unwrap_or_default();
        out["function"] = json!(plan.function);
        out["undone_by"] = json!(by);
        if let Some(a) = &acting {
            out["acting_as"] = json!(a.arn().unwrap_or("?"));
        }
        out["at"] = json!(trailguard_rules::time::format_epoch(now));
        out["verified"] = json!(table.is_some());
        // The event's claims, marked undone: a redelivery of it reports them, not acts.
        let mut unmarked = false;
        if let (Some(table), false, true) = (&table, dry_run, report.complete()) {
            let note = format!(
                "{}{by} at {}",
                trailguard_aws::executor::UNDONE_BY,
                trailguard_rules::time::format_epoch(now)
            );
            let mut marked = vec![];
            for key in plan.steps.iter().filter_map(|s| s.ledger_key.as_deref()) {
                let r = ledger
                    .mark_undone(table, key, &note, now + UNDONE_KEPT_SECS)
                    .await;
                unmarked |= !matches!(r, Ok(true));
                marked.push(match r {
                    Ok(m) => json!({"key": key, "marked": m}),
                    Err(e) => json!({"key": key, "marked": false, "error": e.to_string()}),
                });
            }
            out["ledger"] = json!(marked);
            if unmarked {
                eprintln!(
                    "trailguard: not every claim of the event was marked undone in {table} \
                     (see `ledger`): a redelivery of it may act again"
                );
            }
        }
        let touched = report.steps.iter().any(|s| {
            matches!(
                s.outcome,
                trailguard_aws::undo::StepOutcome::Done
                    | trailguard_aws::undo::StepOutcome::Failed(_)
            )
        });
        // Who undid what: beside the event's reports in the ledger, and told to the topic.
        let mut unrecorded = false;
        if let (false, true, Some(table), Some(id), Some(function)) = (
            dry_run,
            touched,
            &table,
            plan.event_id.as_deref(),
            plan.function.as_deref(),
        ) {
            let key = trailguard_aws::ledger::report_key(id, function);
            let r = ledger
                .record_undo(table, &key, &out.to_string(), now + UNDONE_KEPT_SECS)
                .await;
            unrecorded |= r.is_err();
            out["recorded"] = match r {
                Ok(()) => json!(true),
                Err(e) => json!({"error": e.to_string()}),
            };
        }
        if let (false, true, Some(t)) = (dry_run, touched, &topic) {
            let (subject, body) = trailguard_rules::render::render_undo(&out);
            let mut region = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(trailguard_aws::config::http_client())
                .timeout_config(trailguard_aws::config::timeouts());
            if let Some(r) = sns_region(t) {
                region = region.region(aws_config::Region::new(r));
            }
            let sns = aws_sdk_sns::Client::new(&region.load().await);
            let r = trailguard_aws::notify::publish_undo(
                &sns,
                t,
                &subject,
                &body,
                plan.event_id.as_deref(),
            )
            .await;
            unrecorded |= r.is_err();
            out["told"] = match r {
                Ok(()) => json!(t),
                Err(e) => json!({"error": e.to_string()}),
            };
        }
        if unrecorded {
            eprintln!(
                "trailguard: the undo was not recorded in the ledger or not told to the topic \
                 (see `recorded`, `told`)"
            );
        }
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        let changed = report
            .steps
            .iter()
            .any(|s| s.outcome == trailguard_aws::undo::StepOutcome::Done);
        if changed {
            eprintln!(
                "trailguard: the calls this undo made are events like anyone's: the functions \
                 and the sweep act on them unless the resource is tagged exempt (as a tag \
                 admin) or the policy allows it"
            );
        }
        if let Some(why) = &report.refused {
            eprintln!("trailguard: undo refused, nothing was changed: {why}");
            return Ok(ExitCode::from(2));
        }
        Ok(if report.complete() && !unmarked && !unrecorded {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// Who the credentials of `sdk` are.
async fn who_is(
    sdk: &aws_config::SdkConfig,
) -> Result<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput, String> {
    aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            let code = trailguard_aws::error::code_of(&e).unwrap_or_else(|| e.to_string());
            format!("who is calling (sts:GetCallerIdentity): {code}")
        })
}

/// An IAM role name (no path): what `--member-role` takes.
fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The configuration of `sdk` in `region` with the credentials of role `name` in account
/// `member`, assumed by `caller` for this undo (a quarter of an hour), and who those
/// credentials are. The session is named after the caller, so the member account's
/// CloudTrail says who.
async fn as_member_role(
    sdk: &aws_config::SdkConfig,
    caller: &aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput,
    member: &str,
    name: &str,
    region: &str,
) -> Result<
    (
        aws_config::SdkConfig,
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput,
    ),
    String,
> {
    let arn = caller.arn().unwrap_or_default();
    // The caller's partition: a role in aws-cn or aws-us-gov is named in its own.
    let partition = arn
        .split(':')
        .nth(1)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .unwrap_or("aws");
    let role_arn = format!("arn:{partition}:iam::{member}:role/{name}");
    let out = aws_sdk_sts::Client::new(sdk)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name(session_name(arn))
        .duration_seconds(900)
        .send()
        .await
        .map_err(|e| {
            let code = trailguard_aws::error::code_of(&e).unwrap_or_else(|| e.to_string());
            format!("--member-role: assuming {role_arn} (sts:AssumeRole): {code}")
        })?;
    let c = out
        .credentials()
        .ok_or_else(|| format!("--member-role: assuming {role_arn} gave no credentials"))?;
    let member_sdk = sdk
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                std::time::SystemTime::try_from(*c.expiration()).ok(),
                "trailguard-undo-member-role",
            ),
        ))
        .build();
    let acting = who_is(&member_sdk).await?;
    Ok((member_sdk, acting))
}

/// `trailguard-undo.<the caller's last name part>`, in the characters and length a role
/// session name takes.
fn session_name(caller_arn: &str) -> String {
    let who: String = caller_arn
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
        .collect();
    let mut name = format!("trailguard-undo.{who}");
    name.truncate(64);
    name
}

/// The region of an SNS topic ARN (`arn:<partition>:sns:<region>:<account>:<name>`).
fn sns_region(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", region, account, name]
            if trailguard_rules::event::is_region_name(region)
                && trailguard_rules::ids::is_account_id(account)
                && !name.is_empty() =>
        {
            Some((*region).to_string())
        }
        _ => None,
    }
}
