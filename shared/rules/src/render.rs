//! The human side of the notification: what happened, who, from where, what trailguard did
//! (or would do, in dry-run), then the JSON report.

use serde_json::Value;

use crate::action::{Action, Undo};
use crate::decision::Kind;
use crate::report::{Report, Status};
use crate::sweep::SweepReport;

/// The longest any one line of the human part may be, and the whole human part: names and
/// descriptions come from whoever made the call, and a chat client should not receive a
/// 10 KB group description.
pub const MAX_LINE: usize = 400;
pub const MAX_HUMAN: usize = 8 * 1024;
/// Strings in the JSON report longer than this are cut (the full event is in the logs), so
/// the message stays far below SNS's 256 KB whatever the event carried.
pub const MAX_JSON_STRING: usize = 1024;

/// (subject, body) for one report. Every string that came from an event is made inert:
/// see [`defang`] for the human part and [`inert_json`] for the report.
pub fn render(report: &Report) -> (String, String) {
    let (subject, human) = human(report);
    let mut b = bounded(&defang(&human), MAX_HUMAN);
    b.push_str("\n--- report (JSON) ---\n");
    b.push_str(&inert_json(
        &serde_json::to_value(report).unwrap_or_default(),
    ));
    b.push('\n');
    let subject = inert_subject(&subject);
    (subject, b)
}

/// The subject made inert: the "[trailguard] TAG: " prefix is ours, the title after it
/// comes from events.
fn inert_subject(subject: &str) -> String {
    match subject.split_once(": ") {
        Some((prefix, title)) => format!("{prefix}: {}", defang(title).replace('\n', " ")),
        None => defang(subject).replace('\n', " "),
    }
}

/// Text with nothing a mail or chat client would turn into a link, a mention or formatting:
/// control characters become spaces (one line stays one line); `<` and `>` (HTML, and
/// chat mentions and links such as `<!channel>`, `<@U123>`, `<http://x|y>`) become `‹ ›`;
/// an `@` that starts a word gets a zero-width space (no `@here`, `@channel`, `@someone`;
/// addresses stay as they are);
/// markdown's `*`, `~`, backtick, `[`, `]`, `|`, `#`, and `_` at a word's edge, are escaped
/// with a backslash;
/// bidirectional controls (U+202E and the others, [`is_bidi_control`]) become U+FFFD, so a
/// name cannot reorder what is shown around it;
/// URLs lose their scheme (`hxxps://`, whatever the letter case) and `www.` its dot. Each line is cut at
/// [`MAX_LINE`] characters, on a character boundary, with an ellipsis.
pub fn defang(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split('\n') {
        if !out.is_empty() || s.starts_with('\n') {
            out.push('\n');
        }
        out.push_str(&defang_line(line));
    }
    out
}

/// Characters that reorder the text around them (Unicode's bidirectional controls): a name
/// with U+202E can show `exe.txt` as `txt.exe`, or put an innocent-looking part first.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// URL schemes and `www.` in any letter case (`Https://`, `WWW.`) made inert: the scheme's
/// `tt`/`t` becomes `xx`/`x` and `www.` loses its dot, keeping the rest as written.
fn defang_links(line: &str) -> String {
    const LIVE: [(&str, &str); 4] = [
        ("https://", "hxxps://"),
        ("http://", "hxxp://"),
        ("ftp://", "fxp://"),
        ("www.", "www[.]"),
    ];
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    'outer: while !rest.is_empty() {
        for (live, inert) in LIVE {
            if rest
                .get(..live.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(live))
            {
                out.push_str(inert);
                rest = &rest[live.len()..];
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn defang_line(line: &str) -> String {
    let line = defang_links(line);
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let (mut n, mut prev) = (0, ' ');
    while let Some(c) = chars.next() {
        if n >= MAX_LINE {
            out.push('…');
            break;
        }
        n += 1;
        match c {
            c if c.is_control() => out.push(' '),
            c if is_bidi_control(c) => out.push('\u{FFFD}'),
            '<' => out.push('‹'),
            '>' => out.push('›'),
            // `@here`, `@channel`, `@someone`, not the `@` of an address (alice@example.com).
            '@' if !prev.is_alphanumeric() && chars.peek().is_some_and(|n| n.is_alphanumeric()) => {
                out.push('@');
                out.push('\u{200B}');
            }
            // Inside a word (`AWSReservedSSO_Admin`) an underscore formats nothing.
            '_' if prev.is_alphanumeric() && chars.peek().is_some_and(|n| n.is_alphanumeric()) => {
                out.push('_')
            }
            '*' | '_' | '~' | '`' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        prev = c;
    }
    out
}

/// A value from an event on one line of the text: a line break in a name must not start a
/// line that reads as trailguard's own (`      undo: …`, `What trailguard did:`).
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'], " ")
}

/// ` (alias NAME)` after an account id, or nothing (the alias was checked when it was set:
/// `ids::is_account_alias`). Labelled: the account chose it, the id is what identifies it.
fn alias(a: Option<&str>) -> String {
    a.map(|a| format!(" (alias {})", one_line(a)))
        .unwrap_or_default()
}

/// Whose actions a text lists: the account they were done in, and in a sweep's message the
/// finding they belong to (counting from 1).
struct Whose<'a> {
    account: Option<&'a str>,
    finding: Option<usize>,
}

/// At most `max` bytes of `s`, cut at a line end or a character boundary.
fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let cut = s[..end].rfind('\n').unwrap_or(end);
    format!("{}\n… (cut; the full report follows)\n", &s[..cut])
}

/// The report as JSON that parses to the same value, but with long strings cut and the
/// characters chat clients format (and bidirectional controls) written as escapes (`\u003c`
/// for `<`, `\u202e`, ...): a client
/// that renders the message shows them, and none acts on them.
pub fn inert_json(v: &Value) -> String {
    let cut = cut_strings(v);
    let text = serde_json::to_string_pretty(&cut).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    // Only inside strings: brackets outside them are the JSON's own. serde_json escapes `"`
    // and `\` inside strings, so a quote not preceded by a backslash ends one.
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            '"' if !escaped => in_string = !in_string,
            c if in_string
                && (matches!(
                    c,
                    '<' | '>' | '@' | '`' | '*' | '~' | '[' | ']' | '|' | '#' | '&'
                ) || is_bidi_control(c)) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
                escaped = false;
                continue;
            }
            _ => {}
        }
        escaped = in_string && c == '\\' && !escaped;
        out.push(c);
    }
    out
}

fn cut_strings(v: &Value) -> Value {
    cut_strings_at(v, MAX_JSON_STRING)
}

/// An undo command is kept whole up to this many characters: people run it from here, so a
/// cut one would be a different command. (The largest resource policy AWS takes is 32 KB.)
const MAX_UNDO_COMMAND: usize = 64 * 1024;

fn cut_strings_at(v: &Value, max: usize) -> Value {
    match v {
        Value::String(s) if s.chars().count() > max => {
            let kept: String = s.chars().take(max).collect();
            Value::String(format!(
                "{kept}… [cut: {} more characters]",
                s.chars().count() - max
            ))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| cut_strings_at(x, max)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let max = if k == "undo" { MAX_UNDO_COMMAND } else { max };
                    (k.clone(), cut_strings_at(x, max))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// (subject, the human part) before it is made inert.
fn human(report: &Report) -> (String, String) {
    let dry = report.planned_only();
    let title = report
        .notice
        .as_ref()
        .map(|n| n.title.as_str())
        .unwrap_or(report.reason.as_str());
    let failed = report.critical_failures().next().is_some();
    // Enforced, yet held: the guard's breaker is open in the event's account (the held
    // actions fail retryably, so the event is retried and kept).
    let held = !dry
        && report
            .actions
            .iter()
            .any(|a| a.error.as_ref().is_some_and(|e| e.code == "BreakerOpen"));
    // Every change was already so (a redelivery, or a key of a user trailguard did not
    // quarantine): the subject must not claim a remediation.
    let changes: Vec<_> = report
        .actions
        .iter()
        .filter(|a| a.action.mutates())
        .collect();
    let unchanged = !changes.is_empty()
        && changes
            .iter()
            .all(|a| matches!(a.outcome, Some(Status::AlreadyDone | Status::Undone)));
    let undone = unchanged && changes.iter().any(|a| a.outcome == Some(Status::Undone));
    use crate::approval::PlanState;
    let plan = report
        .approval
        .as_ref()
        .filter(|_| report.mode == crate::Mode::Approve)
        .map(|a| a.state);
    let tag = match (report.decision, dry, failed) {
        (Kind::Remediate, _, _) if plan == Some(PlanState::Refused) => "FAILED: PLAN NOT KEPT",
        (Kind::Remediate, _, false) if plan == Some(PlanState::Waiting) => "AWAITING APPROVAL",
        (Kind::Remediate, _, false) if plan == Some(PlanState::Approved) => "PLAN APPROVED",
        (Kind::Remediate, _, false) if plan == Some(PlanState::Rejected) => "PLAN REJECTED",
        (Kind::Remediate, _, false) if plan == Some(PlanState::Expired) => "PLAN EXPIRED",
        (Kind::Remediate, false, _) if held => "HELD (breaker open)",
        (Kind::Remediate, false, _) if undone => "UNDONE, not acted on again",
        (Kind::Remediate, false, _) if unchanged => "NO CHANGE NEEDED",
        (_, _, true) => "FAILED",
        (Kind::Remediate, true, _) => "DRY-RUN",
        (Kind::Remediate, false, _) => "REMEDIATED",
        (Kind::Notify, _, _) => "NOTICE",
        _ => "INFO",
    };
    let subject = format!("[trailguard] {tag}: {title}");
    let e = report.event.clone().unwrap_or_default();
    let or_q = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    let mut b = String::new();
    b.push_str(&format!("{}\n\n", one_line(title)));
    if failed {
        // Raw SNS deliveries (chat, queues) lose the subject: the body says it too.
        b.push_str(
            "CONTAINMENT FAILED: the incident is not contained yet. Lambda retries the event; \
             when retries run out, the failure queue keeps it.\n\n",
        );
    }
    b.push_str(&format!(
        "What happened: {} ({})\n",
        one_line(&e.name),
        one_line(&or_q(&e.source))
    ));
    b.push_str(&format!("Who:           {}\n", one_line(&or_q(&e.actor))));
    b.push_str(&format!(
        "From:          {}\n",
        one_line(&or_q(&e.source_ip))
    ));
    b.push_str(&format!("When:          {}\n", one_line(&or_q(&e.time))));
    b.push_str(&format!(
        "Where:         account {}{}, {}\n",
        one_line(&or_q(&e.account)),
        alias(e.account_alias.as_deref()),
        one_line(&or_q(&e.region))
    ));
    b.push_str(&format!("Why:           {}\n", one_line(&report.reason)));
    plan_and_details(
        &mut b,
        report,
        &Whose {
            account: e.account.as_deref(),
            finding: None,
        },
    );
    if let Some(a) = &report.approval {
        b.push_str(&approval_lines(a));
    }
    if let Some(f) = &report.finding {
        b.push_str(&finding_line(f));
    }
    if let Some(a) = &report.archived {
        let what = match (&a.error, a.outcome) {
            (Some(e), _) => format!("not archived: {}", one_line(&e.message)),
            (None, Some(crate::finding::FindingOutcome::Updated)) => "archived".to_string(),
            _ => "to be archived".to_string(),
        };
        b.push_str(&format!(
            "\nGuardDuty:     finding {} {what} (account {})\n",
            one_line(&a.finding_id),
            one_line(&a.account)
        ));
    }
    // Every action done went through the ledger: the whole remediation undoes with one
    // command. Like every command, it is not in the text (the id comes from the event):
    // the text says where its argument is.
    let through_ledger = |a: &&crate::report::ActionReport| {
        a.outcome == Some(Status::Done) && a.reversal.is_some() && a.ledger_key.is_some()
    };
    if report.event_id.is_some() && !report.planned_only() {
        let done: Vec<_> = report
            .actions
            .iter()
            .filter(|a| a.outcome == Some(Status::Done))
            .collect();
        if !done.is_empty() && done.iter().all(through_ledger) {
            b.push_str(
                "\nTo undo all of it, checked first and last action first: trailguard undo --event-id with the event_id of the JSON report below, and --table the stack's LedgerTableName (--dry-run first)",
            );
            if let Some(f) = report.function {
                b.push_str(&format!(
                    "; --function {f} when other functions acted on the same event"
                ));
            }
            // Done in a member account: the undo runs from the central account, as the
            // member account's undo role (member.yaml).
            if report.connection.is_some() {
                b.push_str(
                    "; from the central account, with --member-role and the member role's name followed by -undo (the role member.yaml makes when UndoPrincipalArns is set)",
                );
            }
            b.push('.');
        }
    }
    b.push_str(
        "\nTo undo a remediation by hand, see trailguard's docs, \"Rolling back a remediation by hand\" (docs/src/rollback.md).\n",
    );
    (subject, b)
}

/// Where the plan stands, and what people run. The plan id is trailguard's own (16 hex
/// digits), so the commands are safe in the text, unlike anything from the event.
fn approval_lines(a: &crate::approval::Approval) -> String {
    use crate::approval::PlanState;
    let id = one_line(&a.plan_id);
    let by = a.by.as_deref().map(one_line).unwrap_or_else(|| "?".into());
    let mut s = match a.state {
        PlanState::Waiting => format!(
            "\nApproval:      plan {id} waits for a person until {}.\n  To act:       trailguard approve {id}\n  To decline:   trailguard reject {id}\n",
            one_line(a.approve_by.as_deref().unwrap_or("?"))
        ),
        PlanState::Approved => format!("\nApproval:      plan {id}, approved by {by}\n"),
        PlanState::Rejected => {
            format!("\nApproval:      plan {id} was rejected by {by}: nothing was done\n")
        }
        PlanState::Expired => format!(
            "\nApproval:      plan {id} expired at {}: nothing was done\n",
            one_line(a.approve_by.as_deref().unwrap_or("?"))
        ),
        PlanState::Refused => format!("\nApproval:      plan {id}: nothing was done\n"),
    };
    if let Some(p) = &a.problem {
        s.push_str(&format!("  Why:          {}\n", one_line(p)));
    }
    s
}

/// What became of the Security Hub finding the event carried.
fn finding_line(f: &crate::finding::FindingUpdate) -> String {
    use crate::finding::FindingOutcome;
    let what = match (f.outcome, &f.error) {
        (Some(FindingOutcome::Updated), _) => format!("marked {}", f.workflow_status.as_str()),
        (Some(FindingOutcome::NotFound), _) => "not found in Security Hub: not updated".into(),
        (_, Some(e)) => format!(
            "not marked {}: {}",
            f.workflow_status.as_str(),
            one_line(&e.message)
        ),
        _ => format!("to be marked {}", f.workflow_status.as_str()),
    };
    format!("\nSecurity Hub:  finding {} {what}\n", one_line(&f.id))
}

/// What was done (or would be) and the notice's details: the part of a report an event's
/// message and a sweep's finding share.
fn plan_and_details(b: &mut String, report: &Report, whose: &Whose) {
    let dry = report.planned_only();
    if !report.actions.is_empty() {
        let approve = report.mode == crate::Mode::Approve;
        let waits = report
            .actions
            .iter()
            .any(|a| a.outcome.is_none() || a.outcome == Some(Status::AwaitingApproval));
        b.push_str(if approve && waits && !dry {
            "\nWhat trailguard will do once a person approves (the safeguards marked done were put back at once):\n"
        } else if approve && waits {
            "\nWhat trailguard will do once a person approves (nothing was changed yet):\n"
        } else if approve && !dry {
            "\nWhat trailguard did (safeguards are put back without waiting for approval):\n"
        } else if dry {
            "\nWhat trailguard would do (dry-run, nothing was changed):\n"
        } else {
            "\nWhat trailguard did:\n"
        });
        for (i, a) in report.actions.iter().enumerate() {
            // A read-only step that could not run is not a failed containment.
            let outcome = match a.outcome {
                Some(Status::Failed) if !a.action.is_critical() => "not available",
                Some(s) => s.as_str(),
                None => "planned",
            };
            let what = a.target.clone().unwrap_or_else(|| a.action.describe());
            b.push_str(&format!("  - {}: {outcome}", one_line(&what)));
            // A dry-run note repeats the target ("would ..."); others (the breaker's) add to it.
            if let Some(n) = a.note.as_ref().filter(|_| {
                !matches!(a.outcome, Some(Status::DryRun | Status::AwaitingApproval)) || !dry
            }) {
                b.push_str(&format!(" ({})", one_line(n)));
            }
            if let Some(err) = &a.error {
                b.push_str(&format!("\n      error: {}", one_line(&err.message)));
            }
            // What undoes it (only for a step proved done), and where to look at it. The
            // command itself is never in the text: making the text inert would change it (an
            // escaped bracket breaks its JSON, a line cut inside a quoted policy would run the
            // next line as shell code, a Markdown reader drops backslashes). The JSON part
            // has it exactly, read with a JSON reader.
            match &a.undo {
                Some(Undo::Command(_)) => b.push_str(&format!(
                    "\n      undo: the exact command is {}action {}'s undo.command in the JSON report below, counting from 1 (read it with a JSON reader, not from the escaped text)",
                    whose.finding.map(|k| format!("finding {k}'s ")).unwrap_or_default(),
                    i + 1
                )),
                Some(Undo::None(why)) => {
                    b.push_str(&format!("\n      undo: none ({})", one_line(why)))
                }
                None => {}
            }
            if let Some(l) = &a.console {
                // The console opens the page in the account one is signed in to.
                b.push_str(&format!(
                    "\n      console (account {}): {l}",
                    one_line(whose.account.unwrap_or("?"))
                ));
            }
            b.push('\n');
        }
    }
    if let Some(n) = report.notice.as_ref().filter(|n| !n.details.is_empty()) {
        b.push_str("\nDetails:\n");
        for d in &n.details {
            b.push_str(&format!("  - {}\n", one_line(d)));
        }
    }
    for a in &report.actions {
        if let Action::SummarizeKeyActivity(_) = a.action {
            match &a.result {
                Some(r) => key_activity(b, r),
                None => b.push_str(&format!(
                    "\nKey activity: {}\n",
                    a.note.as_deref().unwrap_or("no summary")
                )),
            }
        }
    }
}

/// (subject, body) for one `trailguard undo` that changed something or failed: who undid
/// which remediation, each step's outcome, then the undo's JSON report (`undo` in
/// shared/aws: `event_id`, `account`, `region`, `steps`, `undone_by`, `at`). The strings
/// come from a report and the ledger: made inert like a notice's.
pub fn render_undo(out: &Value) -> (String, String) {
    // Every value on one line: a line break in an id or a target cannot start a line that
    // reads as trailguard's own.
    let text = |v: &Value, k: &str| one_line(v.get(k).and_then(Value::as_str).unwrap_or("?"));
    let steps = out
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let outcome = |s: &Value| match s.get("outcome") {
        Some(Value::String(o)) => one_line(&o.replace('_', " ")),
        Some(Value::Object(m)) => m
            .iter()
            .next()
            .map(|(k, v)| {
                one_line(&format!(
                    "{}: {}",
                    k.replace('_', " "),
                    v.as_str().unwrap_or("")
                ))
            })
            .unwrap_or_default(),
        _ => "?".into(),
    };
    let failed = steps
        .iter()
        .any(|s| s.get("outcome").and_then(|o| o.get("failed")).is_some());
    let tag = if failed { "UNDO FAILED" } else { "UNDONE" };
    let where_ = format!("account {}, {}", text(out, "account"), text(out, "region"));
    let subject = format!(
        "[trailguard] {tag}: the remediation of event {} in {where_}",
        text(out, "event_id")
    );
    let mut b = format!(
        "{} undid the remediation of event {} in {where_}, at {}, with `trailguard undo`.\n\
         A redelivery of that event reports what was undone and does not act on it again; \
         a new change to the same resources is acted on as any other.\n\n",
        text(out, "undone_by"),
        text(out, "event_id"),
        text(out, "at"),
    );
    for s in steps {
        b.push_str(&format!(
            "- {} {}: {}\n",
            text(s, "type"),
            text(s, "target"),
            outcome(s)
        ));
    }
    let mut body = bounded(&defang(&b), MAX_HUMAN);
    body.push_str("\n--- undo (JSON) ---\n");
    body.push_str(&inert_json(out));
    body.push('\n');
    (inert_subject(&subject), body)
}

/// (subject, body) for one sweep: the counts, then each finding, then the JSON report.
pub fn render_sweep(r: &SweepReport) -> (String, String) {
    let dry = r.mode != crate::Mode::Enforce;
    let failed = r.critical_failures().next().is_some();
    let fixed = r
        .findings
        .iter()
        .filter(|f| f.report.decision == Kind::Remediate)
        .count();
    let noticed = r.findings.len() - fixed;
    let held = r.findings.iter().any(|f| {
        f.report
            .actions
            .iter()
            .any(|a| a.error.as_ref().is_some_and(|e| e.code == "BreakerOpen"))
    });
    let tag = match (failed, dry, held) {
        (_, false, true) => "SWEEP HELD (breaker open)",
        (true, _, _) => "SWEEP FAILED",
        (false, true, _) => "SWEEP DRY-RUN",
        _ => "SWEEP",
    };
    let or_q = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    let where_ = format!(
        "account {}{}, {}",
        or_q(&r.account),
        alias(r.account_alias.as_deref()),
        or_q(&r.region)
    );
    let verb = if dry { "to fix" } else { "fixed" };
    let subject = format!(
        "[trailguard] {tag}: {}: {fixed} resource(s) {verb}, {noticed} notice(s) in {where_}",
        r.guard.name()
    );
    let mut b = format!(
        "The reconciliation sweep of {} ({}) looked at the current state in {where_}.\n\n",
        r.guard.name(),
        r.function
    );
    let listed: Vec<String> = r
        .listed
        .iter()
        .map(|(k, n)| format!("{n} {}", k.name()))
        .collect();
    b.push_str(&format!(
        "Looked at:  {} ({} page(s))\n",
        if listed.is_empty() {
            "nothing".into()
        } else {
            listed.join(", ")
        },
        r.pages
    ));
    let outcomes: Vec<String> = r.outcomes.iter().map(|(s, n)| format!("{n} {s}")).collect();
    b.push_str(&format!(
        "Actions:    {}\n",
        if outcomes.is_empty() {
            "none".into()
        } else {
            outcomes.join(", ")
        }
    ));
    match (&r.checkpoint, &r.stopped) {
        (Some(cp), why) => b.push_str(&format!(
            "Unfinished: {}; the next run continues with {}\n",
            why.as_deref().unwrap_or("stopped"),
            cp.kind.name()
        )),
        (None, _) => b.push_str("Finished:   every resource listed\n"),
    }
    for (k, f) in r.findings.iter().enumerate() {
        b.push_str(&format!(
            "\n== {} {}: {}\n",
            f.kind.name(),
            one_line(&f.resource),
            one_line(&f.report.reason)
        ));
        plan_and_details(
            &mut b,
            &f.report,
            &Whose {
                account: r.account.as_deref(),
                finding: Some(k + 1),
            },
        );
    }
    let mut body = bounded(&defang(&b), MAX_HUMAN);
    body.push_str("\n--- report (JSON) ---\n");
    body.push_str(&inert_json(&serde_json::to_value(r).unwrap_or_default()));
    body.push('\n');
    let subject = inert_subject(&subject);
    (subject, body)
}

fn key_activity(b: &mut String, r: &Value) {
    let s = |k: &str| r[k].as_str().unwrap_or("?").to_string();
    b.push_str(&format!(
        "\nKey activity, last {}h: {} events, first {} last {}\n",
        r["hours"],
        r["events"],
        s("first_seen"),
        s("last_seen")
    ));
    for (label, key) in [
        ("top calls", "top_event_names"),
        ("source IPs", "source_ips"),
        ("regions", "regions"),
    ] {
        let list: Vec<String> = r[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| format!("{} ({})", x["value"].as_str().unwrap_or("?"), x["count"]))
            .collect();
        b.push_str(&format!(
            "  {label}: {}\n",
            if list.is_empty() {
                "none".into()
            } else {
                list.join(", ")
            }
        ));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_undo_notice_names_who_and_what_and_is_inert() {
        let out = serde_json::json!({
            "event_id": "ev-1", "account": "123456789012", "region": "eu-west-1",
            "undone_by": "arn:aws:iam::123456789012:user/alice", "at": "2026-12-06T10:00:00Z",
            "steps": [
                {"type": "deactivate_access_key", "target": "<@here> AKIA1\nWhat trailguard did: x", "outcome": "done"},
                {"type": "tag_user", "target": "bob", "outcome": {"already_undone": "no tag"}},
            ],
        });
        let (subject, body) = render_undo(&out);
        assert_eq!(
            subject,
            "[trailguard] UNDONE: the remediation of event ev-1 in account 123456789012, eu-west-1"
        );
        assert!(
            body.starts_with("arn:aws:iam::123456789012:user/alice undid"),
            "{body}"
        );
        assert!(body.contains(" bob: already undone: no tag\n"), "{body}");
        assert!(!body.contains("<@here>"), "{body}");
        assert!(
            !body.lines().any(|l| l.starts_with("What trailguard did")),
            "{body}"
        );
        let mut failed = out.clone();
        failed["steps"][0]["outcome"] = serde_json::json!({"failed": "AccessDenied"});
        assert!(render_undo(&failed)
            .0
            .starts_with("[trailguard] UNDO FAILED:"));
    }

    use super::*;
    use crate::action::{Notice, Severity};
    use crate::decision::Decision;
    use crate::event::Event;

    fn hostile(title: &str, details: Vec<String>) -> (String, String) {
        let d = Decision::notify(
            title.to_string(),
            Notice {
                severity: Severity::High,
                title: title.to_string(),
                details,
            },
        );
        render(&Report::new(&d, None))
    }

    #[test]
    fn names_from_events_cannot_mention_link_or_format() {
        let (subject, body) = hostile(
            "group <!channel> *urgent* [login](https://evil.example/x) @here",
            vec![
                "description: <@U024BE7LH> `rm -rf` ~~gone~~ _it_ | # big | www.evil.example"
                    .into(),
                "owner: alice@example.com, role AWSReservedSSO_Admin_1a2b".into(),
            ],
        );
        let human = body.split("--- report (JSON) ---").next().unwrap();
        // Present, and not escaped by a backslash right before it.
        let active = |text: &str, pat: &str| {
            text.match_indices(pat)
                .any(|(i, _)| i == 0 || !text[..i].ends_with('\\'))
        };
        for text in [subject.as_str(), human] {
            for bad in [
                "<!channel>",
                "<@U024",
                "https://",
                "[login",
                "*urgent",
                "@here",
                "`rm",
                "www.evil",
                "~~",
                "| #",
            ] {
                assert!(!active(text, bad), "{bad} left in: {text}");
            }
        }
        assert!(subject.starts_with("[trailguard] NOTICE: "), "{subject}");
        // Addresses and names with inner underscores stay readable.
        assert!(human.contains("alice@example.com"), "{human}");
        assert!(human.contains("AWSReservedSSO_Admin_1a2b"), "{human}");
        assert!(human.contains("\\_it\\_"), "{human}");
    }

    #[test]
    fn the_json_report_parses_to_the_same_values_without_active_characters() {
        let title = "<!channel> @here [x](https://evil.example) `code` \"quoted\" back\\slash";
        let (_, body) = hostile(title, vec![]);
        let json = body.split("--- report (JSON) ---\n").nth(1).unwrap();
        let strings_part: String = json.chars().filter(|c| !matches!(c, '[' | ']')).collect();
        for c in ['<', '>', '@', '`', '*', '~', '|', '#'] {
            assert!(!strings_part.contains(c), "{c} in {json}");
        }
        let v: Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["reason"], title);
        assert_eq!(v["notice"]["title"], title);
    }

    #[test]
    fn links_are_defanged_in_any_letter_case() {
        for (raw, inert) in [
            ("https://evil.example", "hxxps://evil.example"),
            ("Https://evil.example", "hxxps://evil.example"),
            ("hTtPs://evil.example", "hxxps://evil.example"),
            ("HTTP://evil.example", "hxxp://evil.example"),
            ("Http://evil.example", "hxxp://evil.example"),
            ("FTP://evil.example", "fxp://evil.example"),
            ("www.evil.example", "www\\[.\\]evil.example"),
            ("WWW.evil.example", "www\\[.\\]evil.example"),
            ("Www.evil.example", "www\\[.\\]evil.example"),
            ("see wWw.a and HTTPS://b", "see www\\[.\\]a and hxxps://b"),
            ("é https://x", "é hxxps://x"),
        ] {
            assert_eq!(defang(raw), inert, "{raw}");
        }
        // Every letter-case spelling of every live prefix, inside other text.
        for live in ["http://", "https://", "ftp://", "www."] {
            let n = live.chars().filter(|c| c.is_ascii_alphabetic()).count();
            for mask in 0..(1u32 << n) {
                let mut i = 0;
                let spelled: String = live
                    .chars()
                    .map(|c| {
                        if !c.is_ascii_alphabetic() {
                            return c;
                        }
                        i += 1;
                        if mask & (1 << (i - 1)) != 0 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect();
                let out = defang(&format!("x {spelled}evil.example y")).to_ascii_lowercase();
                assert!(!out.contains(live), "{spelled}: {out}");
            }
        }
    }

    #[test]
    fn bidirectional_controls_never_reach_a_notification() {
        let bidi = [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
            '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ];
        for c in bidi {
            assert!(is_bidi_control(c), "{c:?}");
            let name = format!("user-{c}gpj.exe");
            assert_eq!(defang(&name), "user-\u{FFFD}gpj.exe", "{c:?}");
            let (subject, body) = hostile(&format!("group {name}"), vec![format!("owner {name}")]);
            assert!(!subject.contains(c), "{c:?} in {subject:?}");
            assert!(!body.contains(c), "{c:?} in the body");
            // The JSON part still parses to the original value.
            let json = body.split("--- report (JSON) ---\n").nth(1).unwrap();
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(v["notice"]["details"][0], format!("owner {name}"));
        }
        // Neighbours that do not reorder text stay as they are.
        for c in ['\u{200B}', '\u{2065}', '\u{202F}', 'é'] {
            assert!(!is_bidi_control(c), "{c:?}");
        }
    }

    #[test]
    fn a_plan_that_found_everything_already_so_is_not_called_remediated() {
        use crate::action::{Action, DeactivateKey};
        let d = Decision::remediate(
            "key re-activated",
            vec![Action::from(DeactivateKey::of(
                Some("carol".into()),
                "AKIA5EXAMPLECAROL02".into(),
            ))],
            Notice {
                severity: Severity::High,
                title: "Access key re-activated".into(),
                details: vec![],
            },
        );
        let mut r = Report::new(&d, None);
        r.actions[0].outcome = Some(Status::AlreadyDone);
        assert!(
            render(&r).0.contains("NO CHANGE NEEDED"),
            "{}",
            render(&r).0
        );
        r.actions[0].outcome = Some(Status::Done);
        assert!(render(&r).0.contains("REMEDIATED"), "{}", render(&r).0);
    }

    #[test]
    fn each_action_done_names_its_undo_and_its_console_page() {
        use crate::action::{Action, RevokeRules};
        let event = Event::parse(
            &serde_json::from_str(include_str!(
                "../../../events/aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let d = Decision::remediate(
            "port 22 open to the world",
            vec![Action::from(RevokeRules {
                group_id: "sg-0a1b2c3d4e5f60789".into(),
                egress: false,
                rule_ids: vec!["sgr-0123456789abcdef0".into()],
                permissions: vec![],
            })],
            Notice {
                severity: Severity::High,
                title: "Security group opened".into(),
                details: vec![],
            },
        );
        let mut r = Report::new(&d, Some(&event));
        let region = event.region().unwrap().to_string();
        let live = format!(
            "https://console.aws.amazon.com/ec2/home?region={region}#SecurityGroup:groupId=sg-0a1b2c3d4e5f60789"
        );
        assert_eq!(r.actions[0].console.as_deref(), Some(live.as_str()));
        r.actions[0].outcome = Some(Status::Done);
        r.actions[0].undo = Some(Undo::Command(
            "aws ec2 authorize-security-group-ingress --group-id sg-0a1b2c3d4e5f60789".into(),
        ));
        // The command is never in the text, whatever it is: the text says where the exact
        // one is, and the JSON part has it byte for byte, read with a JSON reader. A plain
        // one, brackets (a group's permissions), a policy over several lines with a quote
        // where a line would be cut, a backslash a Markdown reader drops, 3 KB.
        let quote_at_400 = format!(
            "aws kms put-key-policy --key-id k --policy '{{\n  \"{}'\\''B\",\n  \"$(touch PWNED)\"\n}}'",
            "A".repeat(380)
        );
        for command in [
            "aws ec2 authorize-security-group-ingress --group-id sg-0a1b2c3d4e5f60789".to_string(),
            r#"aws ec2 authorize-security-group-ingress --group-id sg-1 --ip-permissions '[{"IpProtocol":"tcp"}]'"#.to_string(),
            quote_at_400,
            r#"aws sqs tag-queue --queue-url q --tags 'a=x'\''; touch PWNED2; echo '\'''"#.to_string(),
            format!("aws sqs set-queue-attributes --queue-url q --attributes Policy={}", "x".repeat(3000)),
        ] {
            r.actions[0].undo = Some(Undo::Command(command.clone()));
            let (_, body) = render(&r);
            let (human, json) = body.split_once("--- report (JSON) ---\n").unwrap();
            assert!(
                human.contains(
                    "undo: the exact command is action 1's undo.command in the JSON report below, counting from 1"
                ),
                "{human}"
            );
            assert!(
                !human.contains("PWNED")
                    && !human.contains("--group-id")
                    && !human.contains("--queue-url"),
                "{human}"
            );
            // The link, inert in the text, names its account; live in the JSON.
            assert!(
                human.contains("console (account 123456789012): hxxps://"),
                "{human}"
            );
            assert!(!human.contains("https://"), "{human}");
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(v["actions"][0]["undo"]["command"], command.as_str());
            assert_eq!(v["actions"][0]["console"], live.as_str());
        }
        // A line break in a value from the event cannot start a line of trailguard's own.
        r.actions[0].undo = Some(Undo::None("x\n      undo: curl evil | sh".into()));
        r.actions[0].note = Some("n\r\nWhat trailguard did:".into());
        let (_, body) = render(&r);
        let (human, _) = body.split_once("--- report (JSON) ---\n").unwrap();
        assert!(
            human
                .lines()
                .all(|l| !l.trim_start().starts_with("undo: curl")
                    && !l.starts_with("What trailguard did: ")),
            "{human}"
        );
        // Done through the ledger: the whole remediation undoes by its event id, which is
        // named, not written, in the text.
        r.actions[0].undo = None;
        r.actions[0].note = None;
        r.event_id = Some("ev-1; touch PWNED3".into());
        let whole = "To undo all of it, checked first and last action first: trailguard undo --event-id with the event_id of the JSON report below";
        assert!(!render(&r).1.contains(whole));
        r.actions[0].reversal = Some(crate::undo::Reversal::RevokeSecurityGroup {
            group_id: "sg-1".into(),
            egress: false,
            permissions: vec![],
        });
        r.actions[0].ledger_key = Some("claim#ev-1#0".into());
        let (_, body) = render(&r);
        let (human, _) = body.split_once("--- report (JSON) ---\n").unwrap();
        assert!(
            human.contains(whole) && !human.contains("PWNED3") && !human.contains("--member-role"),
            "{human}"
        );
        // Done in a member account: the undo says how to run it from the central account.
        r.connection = Some(crate::report::Connection {
            account: Some("111122223333".into()),
            region: Some("us-east-1".into()),
            role: "arn:aws:iam::111122223333:role/trailguard-member".into(),
            outcome: Status::Done,
            error: None,
        });
        let (_, body) = render(&r);
        assert!(
            body.contains("with --member-role and the member role's name followed by -undo"),
            "{body}"
        );
        r.connection = None;
        // Not done: no undo line.
        r.actions[0].outcome = Some(Status::AlreadyDone);
        r.actions[0].undo = None;
        let (_, body) = render(&r);
        assert!(!body
            .split("--- report (JSON) ---")
            .next()
            .unwrap()
            .contains("undo:"));
    }

    #[test]
    fn the_account_is_named_by_its_alias_only_in_the_form_iam_allows() {
        let event = Event::parse(&serde_json::json!({
            "source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail",
            "account": "123456789012", "region": "us-east-1",
            "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateSecurityGroup",
                       "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
                       "userIdentity": {"type": "IAMUser", "accountId": "123456789012"}}
        }))
        .unwrap();
        let d = Decision::notify(
            "a notice",
            Notice {
                severity: Severity::Medium,
                title: "a notice".into(),
                details: vec![],
            },
        );
        let with = |alias: &str| {
            let mut r = Report::new(&d, Some(&event));
            r.event.as_mut().unwrap().set_account_alias(Some(alias));
            r
        };
        let (_, body) = render(&with("prod-payments-2"));
        assert!(
            body.contains(
                "Where:         account 123456789012 (alias prod-payments-2), us-east-1\n"
            ),
            "{body}"
        );
        let v: Value =
            serde_json::from_str(body.split_once("--- report (JSON) ---\n").unwrap().1).unwrap();
        assert_eq!(v["event"]["account_alias"], "prod-payments-2");
        let long = "a".repeat(64);
        for bad in [
            "Prod",
            "ab",
            "-prod",
            "prod-",
            "a--b",
            "prod\nWhat trailguard did: nothing",
            "prod.example.com",
            "210987654321",
            "prod-210987654321",
            "us-east-1",
            "us-gov-west-1",
            "prod payments",
            long.as_str(),
        ] {
            let r = with(bad);
            assert_eq!(r.event.as_ref().unwrap().account_alias, None, "{bad:?}");
            let (_, body) = render(&r);
            assert!(
                body.contains("Where:         account 123456789012, us-east-1\n"),
                "{bad:?}: {body}"
            );
        }
        let mut sweep = crate::sweep::SweepReport::new(
            crate::Guard::by_name("security_group").unwrap(),
            &crate::Policy::default(),
            Some("123456789012".into()),
            Some("us-east-1".into()),
        );
        sweep.set_account_alias(Some("prod-payments-2"));
        let (subject, _) = render_sweep(&sweep);
        assert!(
            subject.contains("account 123456789012 (alias prod-payments-2), us-east-1"),
            "{subject}"
        );
        sweep.set_account_alias(Some("Prod Payments"));
        assert_eq!(sweep.account_alias, None);
    }

    #[test]
    fn ten_kilobyte_names_are_cut() {
        let long = "A".repeat(10 * 1024);
        let (subject, body) = hostile(&format!("group {long}"), vec![format!("name: é{long}")]);
        assert!(subject.chars().count() < MAX_LINE + 40, "{}", subject.len());
        let (human, json) = body.split_once("--- report (JSON) ---\n").unwrap();
        assert!(human.len() <= MAX_HUMAN + 64, "{}", human.len());
        assert!(human.lines().all(|l| l.chars().count() <= MAX_LINE + 8));
        let v: Value = serde_json::from_str(json).unwrap();
        let reason = v["reason"].as_str().unwrap();
        assert!(
            reason.ends_with("more characters]"),
            "{}",
            &reason[reason.len() - 40..]
        );
        assert!(body.len() < 32 * 1024, "{}", body.len());
    }
}
