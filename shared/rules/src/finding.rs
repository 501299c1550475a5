//! What trailguard writes back to the Security Hub finding an event carried, once it has
//! acted: the finding's workflow status and a note (`BatchUpdateFindings`, in the finding's
//! own account and region), so the team sees in Security Hub what was done and how to undo
//! it. The handler makes the call; what to write is decided here, from the report.
//!
//! - `RESOLVED` only when the report proves the incident contained ([`contained`]).
//! - `NOTIFIED` when people were told instead: a notice, or an action that failed or was held.
//! - Nothing in dry-run, for an ignored event, when the policy's `update_findings` is off, or
//!   when the event does not name exactly one live finding of AWS's own products.
//!
//! A GuardDuty finding (its own event, `GuardDuty Finding`) may be archived too once the
//! credentials it is about are contained ([`archive_plan`]; the policy's
//! `archive_guardduty_findings`, off by default): only when contained, in the account the finding was delivered to (GuardDuty lets only an administrator account, or
//! an account on its own, archive).
//!
//! `RESOLVED` and archiving say the incident is contained: for GuardDuty's findings only when
//! one access key was disabled, never for an attack sequence or role credentials ([`contained`]).
//!
//! Security Hub sends the updated finding again as a new event. A `RESOLVED` one is closed
//! and ignored; any other is recognised as trailguard's own update sent back ([`own_echo`]) and
//! ignored, and a status the finding already has is not written again, so an update never
//! starts a loop, even when the action keeps failing.

use serde::Serialize;

use crate::decision::Kind;
use crate::event::{is_region_name, AsffFinding, Event, EventBody};
use crate::policy::Mode;
use crate::report::{ErrorReport, Report, Status};

/// Security Hub's limit on a note's text (and on `UpdatedBy`).
pub const NOTE_MAX: usize = 512;

/// The workflow status trailguard sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Workflow {
    #[serde(rename = "RESOLVED")]
    Resolved,
    #[serde(rename = "NOTIFIED")]
    Notified,
}

impl Workflow {
    pub fn as_str(self) -> &'static str {
        match self {
            Workflow::Resolved => "RESOLVED",
            Workflow::Notified => "NOTIFIED",
        }
    }
}

/// What the finding's update call proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingOutcome {
    /// Security Hub listed the finding as processed.
    Updated,
    /// Security Hub has no such finding in that account and region (deleted, or never
    /// there): nothing to update.
    NotFound,
    Failed,
}

/// The update of one finding: what to write, and once written, what became of it. The
/// report's `finding`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingUpdate {
    pub id: String,
    pub product_arn: String,
    pub workflow_status: Workflow,
    pub note: String,
    /// Who the note says wrote it (`trailguard/<function>`).
    pub updated_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<FindingOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

/// A GuardDuty finding archived once its credentials are contained: the report's
/// `archived`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Archive {
    pub finding_id: String,
    /// Where it is archived: the account the finding was delivered to (the GuardDuty
    /// administrator's, or the account's own) and the event's region.
    pub account: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<FindingOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

/// Whether the report proves every change done (or already done): none failed, was held,
/// or was only planned.
fn proved(report: &Report) -> bool {
    // A read-only step (the key's activity summary) that could not run contains nothing and
    // undoes nothing: only the changes count.
    let mut changes = report
        .actions
        .iter()
        .filter(|a| a.action.mutates())
        .peekable();
    changes.peek().is_some()
        && changes.all(|a| matches!(a.outcome, Some(Status::Done) | Some(Status::AlreadyDone)))
}

/// The GuardDuty finding to archive after acting on it, when the policy asks for it: only a
/// remediation proved done, only GuardDuty's own event, only a finding id as GuardDuty writes
/// them, in the account the event was delivered to.
pub fn archive_plan(report: &Report, event: &Event, archive: bool) -> Option<Archive> {
    if !archive
        || report.mode != Mode::Enforce
        || report.decision != Kind::Remediate
        || !contained(report, event)
    {
        return None;
    }
    let EventBody::GuardDuty(f) = &event.body else {
        return None;
    };
    let id = f.id.get()?;
    let account = event.envelope.account.get()?;
    let region = event.region()?;
    let valid = !id.is_empty() && id.len() <= 300 && id.chars().all(|c| c.is_ascii_alphanumeric());
    (valid && crate::ids::is_account_id(account) && is_region_name(region)).then(|| Archive {
        finding_id: id.to_string(),
        account: account.to_string(),
        region: region.to_string(),
        outcome: None,
        error: None,
    })
}

/// The one finding an event is about: a live finding of AWS's own Security Hub or GuardDuty
/// product, with an id and a product ARN in the event's region. None when there is none, or
/// when there are several (which one a decision was about is then not exact).
pub fn the_finding(event: &Event) -> Option<&AsffFinding> {
    let EventBody::SecurityHub(d) = &event.body else {
        return None;
    };
    let mut live = d
        .findings
        .iter()
        .filter(|f| (f.is_aws_product("securityhub") || f.is_guardduty()) && f.closed().is_none());
    let f = live.next()?;
    if live.next().is_some() {
        return None;
    }
    let id = f.id.get()?;
    let region = event.region()?;
    let valid_id = !id.is_empty() && id.len() <= NOTE_MAX && !id.chars().any(char::is_control);
    // Where the clients connect (the event's account and region, read from the first
    // finding that names them) must be where this finding is.
    let here = f.aws_account_id.get() == event.account() && f.region.get() == Some(region);
    (valid_id && here && product_arn_in(f.product_arn.get()?, region)).then_some(f)
}

/// `arn:<partition>:securityhub:<region>::product/aws/<securityhub|guardduty>` in `region`.
fn product_arn_in(arn: &str, region: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", "aws" | "aws-cn" | "aws-us-gov", "securityhub", r, "", "product/aws/securityhub" | "product/aws/guardduty"]
            if *r == region && is_region_name(r)
    )
}

/// Security Hub sending back trailguard's own update of the finding (every
/// BatchUpdateFindings makes a new "Findings - Imported" event): its note is this function's
/// (`trailguard/<function>`) and no newer than the product's last update of the finding
/// (`UpdatedAt`, which BatchUpdateFindings leaves as it is). Deciding it again would act and
/// write again, without end when the action keeps failing. A product's later update (the
/// control checked again, GuardDuty seeing the activity again) is newer than the note, and is
/// decided as any other; so is a note anyone else wrote, whatever it says.
pub fn own_echo(event: &Event, function: &str) -> Option<String> {
    let f = the_finding(event)?;
    let by = crate::lenient::str_at(&f.note, "UpdatedBy")?;
    if by != format!("trailguard/{function}") {
        return None;
    }
    let noted = epoch_ms(&crate::lenient::str_at(&f.note, "UpdatedAt")?)?;
    let updated = epoch_ms(f.updated_at.get()?)?;
    (updated <= noted).then(|| {
        format!(
            "Security Hub finding {} is trailguard's own update, sent back (the product has not updated it since)",
            f.id.get().unwrap_or("?")
        )
    })
}

/// Milliseconds since the epoch of an ASFF timestamp (`2026-12-06T13:01:43.123Z`).
fn epoch_ms(raw: &str) -> Option<i64> {
    let secs = crate::time::epoch(raw)?;
    let frac = raw
        .split_once('.')
        .map(|(_, f)| {
            f.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap_or_default();
    let ms: i64 = format!("{frac:0<3}")[..3].parse().unwrap_or(0);
    Some(secs * 1000 + ms)
}

/// Whether what was proved done contains the incident the event is about: for a control
/// finding, every change done; for GuardDuty's findings (its own event, or through Security
/// Hub), only one access key disabled, outside attack sequences (which name actors
/// trailguard only tells of) and role credentials (whose sessions keep being issued).
fn contained(report: &Report, event: &Event) -> bool {
    if !proved(report) {
        return false;
    }
    let guardduty_type = match &event.body {
        EventBody::GuardDuty(f) => Some(f.finding_type.get().unwrap_or_default().to_string()),
        EventBody::SecurityHub(_) => the_finding(event)
            .filter(|f| f.is_guardduty())
            .map(|f| f.guardduty_type().unwrap_or_default()),
        _ => None,
    };
    let Some(t) = guardduty_type else {
        return true;
    };
    let keys = report
        .actions
        .iter()
        .filter(|a| matches!(a.action, crate::action::Action::DeactivateAccessKey(_)))
        .count();
    !t.starts_with("AttackSequence:") && keys == 1
}

/// What to write to the event's finding after acting, from the report of what was done.
pub fn plan(report: &Report, event: &Event, update_findings: bool) -> Option<FindingUpdate> {
    // A plan waiting for approval is not yet something to tell the finding: its approved
    // run updates it.
    if !update_findings || report.mode != Mode::Enforce || report.decision == Kind::Ignore {
        return None;
    }
    let f = the_finding(event)?;
    let status = if report.decision == Kind::Remediate && contained(report, event) {
        Workflow::Resolved
    } else {
        Workflow::Notified
    };
    // The finding already says so (a delivery retried, an action that keeps failing): writing
    // it again would only make Security Hub send it once more.
    if f.workflow_status()
        .is_some_and(|w| w.eq_ignore_ascii_case(status.as_str()))
    {
        return None;
    }
    let function = report.function.unwrap_or("trailguard");
    Some(FindingUpdate {
        id: f.id.get()?.to_string(),
        product_arn: f.product_arn.get()?.to_string(),
        workflow_status: status,
        note: note(report, status),
        updated_by: format!("trailguard/{function}"),
        outcome: None,
        error: None,
    })
}

/// The note: what was done, and where the exact undo command is. One line, at most
/// [`NOTE_MAX`] characters; an undo command is written out when it fits.
fn note(report: &Report, status: Workflow) -> String {
    let function = report.function.unwrap_or("trailguard");
    let event = report.event_id.as_deref().unwrap_or("?");
    let mut text = match status {
        Workflow::Resolved => format!("trailguard {function} remediated it:"),
        Workflow::Notified if report.actions.is_empty() => {
            format!("trailguard {function} told people: {}", report.reason)
        }
        Workflow::Notified => format!("trailguard {function} could not remediate it all:"),
    };
    for (n, a) in report.actions.iter().enumerate() {
        let outcome = match (a.outcome, &a.error) {
            (Some(Status::Failed), _) if !a.action.mutates() => "not available".into(),
            (Some(Status::Failed), Some(e)) => format!("failed, {}", e.code),
            (Some(s), _) => s.as_str().replace('_', " "),
            (None, _) => "not run".into(),
        };
        text.push_str(&format!(" {}. {} ({outcome});", n + 1, a.action.describe()));
    }
    let undos: Vec<&str> = report
        .actions
        .iter()
        .filter_map(|a| match &a.undo {
            Some(crate::action::Undo::Command(c)) => Some(c.as_str()),
            _ => None,
        })
        .collect();
    let pointer = format!(
        " Undo: each action's undo.command in the report of event {event} (the function's log and its SNS message)."
    );
    match undos.as_slice() {
        [] => {}
        [one] if text.chars().count() + one.chars().count() + 7 <= NOTE_MAX => {
            text.push_str(" Undo: ");
            text.push_str(one);
        }
        _ => text.push_str(&pointer),
    }
    cut(&one_line(&text), NOTE_MAX)
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || crate::render::is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, RevokeRules, Undo};
    use crate::decision::Decision;
    use serde_json::json;

    fn event(findings: serde_json::Value) -> Event {
        Event::from_value(json!({
            "id": "e-1", "source": "aws.securityhub", "account": "123456789012",
            "region": "us-east-1", "detail-type": "Security Hub Findings - Imported",
            "detail": {"findings": findings}
        }))
        .unwrap()
    }

    fn finding(product: &str, workflow: &str) -> serde_json::Value {
        json!({
            "Id": format!("arn:aws:securityhub:us-east-1:123456789012:finding/{workflow}-{product}"),
            "ProductArn": format!("arn:aws:securityhub:us-east-1::product/aws/{product}"),
            "AwsAccountId": "123456789012", "Region": "us-east-1",
            "Workflow": {"Status": workflow}, "RecordState": "ACTIVE"
        })
    }

    fn revoke() -> Action {
        RevokeRules {
            group_id: "sg-0123456789abcdef0".into(),
            egress: false,
            rule_ids: vec!["sgr-0123456789abcdef0".into()],
            permissions: vec![],
        }
        .into()
    }

    fn report(kind: Kind, mode: Mode, outcomes: &[Status]) -> Report {
        let d = Decision {
            kind,
            mode,
            actions: outcomes.iter().map(|_| revoke()).collect(),
            ..Decision::ignore("port 22 open to the world")
        };
        let mut r = Report::new(&d, None);
        r.function = Some("revert-security-group");
        r.event_id = Some("e-1".into());
        for (a, s) in r.actions.iter_mut().zip(outcomes) {
            a.outcome = Some(*s);
            if *s == Status::Done {
                a.undo = Some(Undo::Command(
                    "aws ec2 authorize-security-group-ingress --group-id sg-0123456789abcdef0"
                        .into(),
                ));
            }
            if *s == Status::Failed {
                a.error = Some(ErrorReport {
                    message: "no".into(),
                    code: "AccessDenied".into(),
                    kind: "permanent",
                });
            }
        }
        r
    }

    #[test]
    fn resolved_only_when_every_action_is_proved_done() {
        let e = event(json!([finding("securityhub", "NEW")]));
        let all = plan(
            &report(
                Kind::Remediate,
                Mode::Enforce,
                &[Status::Done, Status::AlreadyDone],
            ),
            &e,
            true,
        )
        .unwrap();
        assert_eq!(all.workflow_status, Workflow::Resolved);
        assert_eq!(all.updated_by, "trailguard/revert-security-group");
        assert!(
            all.note.contains("1. ")
                && all.note.contains("(done)")
                && all.note.contains("(already done)"),
            "{}",
            all.note
        );
        let failed = plan(
            &report(
                Kind::Remediate,
                Mode::Enforce,
                &[Status::Done, Status::Failed],
            ),
            &e,
            true,
        )
        .unwrap();
        assert_eq!(failed.workflow_status, Workflow::Notified);
        assert!(
            failed.note.contains("failed, AccessDenied"),
            "{}",
            failed.note
        );
        let told = plan(&report(Kind::Notify, Mode::Enforce, &[]), &e, true).unwrap();
        assert_eq!(told.workflow_status, Workflow::Notified);
        assert!(told.note.contains("told people: port 22"), "{}", told.note);
    }

    #[test]
    fn a_read_only_step_that_could_not_run_does_not_stand_in_the_way() {
        let e = event(json!([finding("securityhub", "NEW")]));
        let mut r = report(Kind::Remediate, Mode::Enforce, &[Status::Done]);
        let mut summary = crate::report::ActionReport::planned(
            &crate::action::SummarizeKeyActivity {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                hours: 24,
            }
            .into(),
        );
        summary.outcome = Some(Status::Failed);
        r.actions.push(summary);
        let u = plan(&r, &e, true).unwrap();
        assert_eq!(u.workflow_status, Workflow::Resolved);
        assert!(u.note.contains("(not available)"), "{}", u.note);
        // Only a read-only step: nothing was contained.
        r.actions.remove(0);
        assert_eq!(
            plan(&r, &e, true).unwrap().workflow_status,
            Workflow::Notified
        );
    }

    #[test]
    fn the_undo_command_is_in_the_note_when_it_fits() {
        let e = event(json!([finding("securityhub", "NEW")]));
        let one = plan(
            &report(Kind::Remediate, Mode::Enforce, &[Status::Done]),
            &e,
            true,
        )
        .unwrap();
        assert!(
            one.note.ends_with(
                "Undo: aws ec2 authorize-security-group-ingress --group-id sg-0123456789abcdef0"
            ),
            "{}",
            one.note
        );
        let two = plan(
            &report(
                Kind::Remediate,
                Mode::Enforce,
                &[Status::Done, Status::Done],
            ),
            &e,
            true,
        )
        .unwrap();
        assert!(
            two.note.contains("undo.command in the report of event e-1"),
            "{}",
            two.note
        );
        let mut long = report(Kind::Remediate, Mode::Enforce, &[Status::Done]);
        long.actions[0].undo = Some(Undo::Command(format!("aws x {}\n@here", "y".repeat(600))));
        let n = plan(&long, &e, true).unwrap().note;
        assert!(
            n.chars().count() <= NOTE_MAX && n.contains("undo.command") && !n.contains('\n'),
            "{n}"
        );
    }

    #[test]
    fn nothing_is_written_in_dry_run_for_ignored_events_or_when_switched_off() {
        let e = event(json!([finding("securityhub", "NEW")]));
        assert!(plan(
            &report(Kind::Remediate, Mode::DryRun, &[Status::DryRun]),
            &e,
            true
        )
        .is_none());
        assert!(plan(&report(Kind::Ignore, Mode::Enforce, &[]), &e, true).is_none());
        assert!(plan(
            &report(Kind::Remediate, Mode::Enforce, &[Status::Done]),
            &e,
            false
        )
        .is_none());
    }

    #[test]
    fn only_one_live_finding_of_aws_products_in_the_events_region_is_updated() {
        let done = report(Kind::Remediate, Mode::Enforce, &[Status::Done]);
        let two = event(json!([
            finding("securityhub", "NEW"),
            finding("guardduty", "NEW")
        ]));
        assert!(
            plan(&done, &two, true).is_none(),
            "two candidates: which one is not exact"
        );
        let one_closed = event(json!([
            finding("securityhub", "NEW"),
            finding("guardduty", "SUPPRESSED")
        ]));
        assert!(plan(&done, &one_closed, true)
            .unwrap()
            .product_arn
            .ends_with("/aws/securityhub"));
        let mut imported = finding("securityhub", "NEW");
        imported["ProductArn"] =
            json!("arn:aws:securityhub:us-east-1:999988887777:product/999988887777/default");
        assert!(
            plan(&done, &event(json!([imported])), true).is_none(),
            "someone's import"
        );
        let mut elsewhere = finding("securityhub", "NEW");
        elsewhere["ProductArn"] = json!("arn:aws:securityhub:eu-west-1::product/aws/securityhub");
        assert!(
            plan(&done, &event(json!([elsewhere])), true).is_none(),
            "product ARN of another region"
        );
        let mut no_id = finding("securityhub", "NEW");
        no_id["Id"] = json!("a\nb");
        assert!(plan(&done, &event(json!([no_id])), true).is_none());
    }

    #[test]
    fn only_this_functions_own_update_sent_back_is_an_echo() {
        let echo = |by: &str, updated: &str, noted: &str| {
            let mut f = finding("securityhub", "NOTIFIED");
            f["UpdatedAt"] = json!(updated);
            f["Note"] = json!({"Text": "x", "UpdatedBy": by, "UpdatedAt": noted});
            own_echo(&event(json!([f])), "revert-security-group")
        };
        let ours = "trailguard/revert-security-group";
        assert!(echo(ours, "2026-12-06T13:01:43.100Z", "2026-12-06T13:01:43.250Z").is_some());
        assert!(echo(ours, "2026-12-06T13:01:43.250Z", "2026-12-06T13:01:43.250Z").is_some());
        // The product updated it since (the control checked again, the activity seen again).
        assert!(echo(ours, "2026-12-06T13:01:43.300Z", "2026-12-06T13:01:43.250Z").is_none());
        assert!(echo(ours, "2026-12-06T14:00:00Z", "2026-12-06T13:01:43.250Z").is_none());
        // Someone else's note, or another function's: decided as any other.
        assert!(echo("ticketing", "2026-12-06T13:00:00Z", "2026-12-06T13:01:43Z").is_none());
        assert!(echo(
            "trailguard/guard-iam",
            "2026-12-06T13:00:00Z",
            "2026-12-06T13:01:43Z"
        )
        .is_none());
        assert!(echo(ours, "garbage", "2026-12-06T13:01:43Z").is_none());
    }

    #[test]
    fn a_status_the_finding_already_has_is_not_written_again() {
        let e = event(json!([finding("securityhub", "NOTIFIED")]));
        assert!(plan(&report(Kind::Notify, Mode::Enforce, &[]), &e, true).is_none());
        let failed = report(Kind::Remediate, Mode::Enforce, &[Status::Failed]);
        assert!(
            plan(&failed, &e, true).is_none(),
            "a fix that keeps failing"
        );
        let done = report(Kind::Remediate, Mode::Enforce, &[Status::Done]);
        assert_eq!(
            plan(&done, &e, true).unwrap().workflow_status,
            Workflow::Resolved
        );
    }

    #[test]
    fn guardduty_is_contained_only_by_one_key_disabled_outside_attack_sequences() {
        let key: Action = crate::action::DeactivateKey {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            user_name: Some("bob".into()),
        }
        .into();
        let mut r = report(Kind::Remediate, Mode::Enforce, &[]);
        let mut line = crate::report::ActionReport::planned(&key);
        line.outcome = Some(Status::Done);
        r.actions.push(line);
        let native = |t: &str| {
            Event::from_value(json!({
                "id": "e-3", "source": "aws.guardduty", "account": "123456789012",
                "region": "us-east-1", "detail-type": "GuardDuty Finding",
                "detail": {"id": "abc123", "type": t}
            }))
            .unwrap()
        };
        assert!(
            archive_plan(&r, &native("UnauthorizedAccess:IAMUser/TorIPCaller"), true).is_some()
        );
        assert!(archive_plan(
            &r,
            &native("AttackSequence:IAM/CompromisedCredentials"),
            true
        )
        .is_none());
        let mut gd = finding("guardduty", "NEW");
        gd["Types"] = json!(["TTPs/Initial Access/UnauthorizedAccess:IAMUser-TorIPCaller"]);
        assert_eq!(
            plan(&r, &event(json!([gd.clone()])), true)
                .unwrap()
                .workflow_status,
            Workflow::Resolved
        );
        gd["Types"] = json!(["TTPs/AttackSequence:IAM-CompromisedCredentials"]);
        assert_eq!(
            plan(&r, &event(json!([gd])), true).unwrap().workflow_status,
            Workflow::Notified
        );
        // Role credentials: sessions revoked, but the instance keeps issuing new ones.
        let sessions = report(Kind::Remediate, Mode::Enforce, &[Status::Done]);
        assert!(archive_plan(
            &sessions,
            &native("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"),
            true
        )
        .is_none());
    }

    #[test]
    fn a_finding_of_another_account_or_region_than_the_events_is_left_alone() {
        let done = report(Kind::Remediate, Mode::Enforce, &[Status::Done]);
        let mut closed = finding("securityhub", "RESOLVED");
        closed["AwsAccountId"] = json!("111122223333");
        let live = finding("securityhub", "NEW");
        // The event's account is read from the first finding (the closed one, elsewhere).
        assert!(plan(&done, &event(json!([closed, live])), true).is_none());
    }

    fn guardduty(account: &str, id: &str) -> Event {
        Event::from_value(json!({
            "id": "e-2", "source": "aws.guardduty", "account": account,
            "region": "us-east-1", "detail-type": "GuardDuty Finding",
            "detail": {"id": id, "accountId": "111122223333", "region": "us-east-1",
                       "type": "UnauthorizedAccess:IAMUser/TorIPCaller"}
        }))
        .unwrap()
    }

    /// The report's first action as one key's deactivation.
    fn key_first(mut r: Report) -> Report {
        let key: Action = crate::action::DeactivateKey {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            user_name: Some("bob".into()),
        }
        .into();
        if let Some(first) = r.actions.first_mut() {
            first.action = key;
        }
        r
    }

    #[test]
    fn a_guardduty_finding_is_archived_only_when_asked_and_proved_contained() {
        let e = guardduty("123456789012", "5eb0b5d1e2f3a4b5c6d7e8f9a0b1c2d3");
        let done = key_first(report(
            Kind::Remediate,
            Mode::Enforce,
            &[Status::Done, Status::AlreadyDone],
        ));
        let a = archive_plan(&done, &e, true).unwrap();
        // Where it was delivered (the administrator), not the member the key is in.
        assert_eq!(
            (a.account.as_str(), a.region.as_str()),
            ("123456789012", "us-east-1")
        );
        assert!(archive_plan(&done, &e, false).is_none(), "off by default");
        for r in [
            key_first(report(
                Kind::Remediate,
                Mode::Enforce,
                &[Status::Done, Status::Failed],
            )),
            key_first(report(Kind::Remediate, Mode::DryRun, &[Status::DryRun])),
            report(Kind::Notify, Mode::Enforce, &[]),
        ] {
            assert!(archive_plan(&r, &e, true).is_none(), "{:?}", r.decision);
        }
        assert!(archive_plan(&done, &guardduty("123456789012", "../x"), true).is_none());
        assert!(archive_plan(&done, &guardduty("12345", "abc"), true).is_none());
        let sh = event(json!([finding("guardduty", "NEW")]));
        assert!(
            archive_plan(&done, &sh, true).is_none(),
            "only GuardDuty's own event"
        );
    }

    #[test]
    fn the_report_carries_the_update() {
        let e = event(json!([finding("securityhub", "NEW")]));
        let u = plan(
            &report(Kind::Remediate, Mode::Enforce, &[Status::Done]),
            &e,
            true,
        )
        .unwrap();
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(v["workflow_status"], "RESOLVED");
        assert!(v.get("outcome").is_none());
    }
}
