//! A summary for people: on a terminal, or as Markdown to paste into a review.

use std::fmt::Write;

use crate::summary::Summary;

const TOP: usize = 10;

fn kinds(m: Option<&std::collections::BTreeMap<String, u64>>) -> (u64, u64, u64) {
    let get = |k: &str| m.and_then(|m| m.get(k)).copied().unwrap_or(0);
    (get("remediate"), get("notify"), get("ignore"))
}

/// The summary as text (`markdown`: as Markdown tables).
pub fn render(s: &Summary, markdown: bool) -> String {
    let mut o = String::new();
    let h = |o: &mut String, t: &str| {
        if markdown {
            let _ = writeln!(o, "\n### {t}\n");
        } else {
            let _ = writeln!(o, "\n{t}");
        }
    };
    let row = |o: &mut String, cells: &[String]| {
        if markdown {
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        } else {
            let _ = writeln!(
                o,
                "  {}",
                cells
                    .iter()
                    .map(|c| format!("{c:>12}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    };
    let header = |o: &mut String, cells: &[&str]| {
        let cells: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
        row(o, &cells);
        if markdown {
            let _ = writeln!(o, "|{}", "---|".repeat(cells.len()));
        }
    };
    if markdown {
        let _ = writeln!(o, "## trailguard backtest");
    } else {
        let _ = writeln!(o, "trailguard backtest");
    }
    let _ = writeln!(
        o,
        "{}{} objects read ({} left out by the filters), {} records, {:.1} MB; {} records outside the filters, {} delivered to no function, {} not readable; {} objects skipped",
        if markdown { "\n" } else { "  " },
        s.objects - s.skipped.min(s.objects),
        s.objects_filtered,
        s.records,
        s.bytes as f64 / 1e6,
        s.records_filtered,
        s.not_delivered,
        s.bad_records,
        s.skipped
    );

    h(&mut o, "Decisions by function (records delivered to it)");
    if markdown {
        header(&mut o, &["function", "remediate", "notify", "ignore"]);
    } else {
        let _ = writeln!(
            o,
            "  {:<26}{:>12}{:>12}{:>12}",
            "function", "remediate", "notify", "ignore"
        );
    }
    for (f, m) in &s.decisions {
        let (r, n, i) = kinds(Some(m));
        if markdown {
            row(
                &mut o,
                &[
                    format!("`{f}`"),
                    r.to_string(),
                    n.to_string(),
                    i.to_string(),
                ],
            );
        } else {
            let _ = writeln!(o, "  {f:<26}{r:>12}{n:>12}{i:>12}");
        }
    }

    if !s.awaiting_approval.is_empty() {
        h(
            &mut o,
            "Remediations that would have waited for approval (mode approve)",
        );
        for (f, n) in &s.awaiting_approval {
            if markdown {
                let _ = writeln!(o, "- `{f}` ×{n}");
            } else {
                let _ = writeln!(o, "  {n:>8}  {f}");
            }
        }
    }

    h(&mut o, "Top reasons");
    for (f, by_kind) in &s.reasons {
        for kind in ["remediate", "notify"] {
            if let Some(m) = by_kind.get(kind) {
                for (reason, n) in Summary::top(m, TOP) {
                    if markdown {
                        let _ = writeln!(o, "- `{f}` {kind} ×{n}: {reason}");
                    } else {
                        let _ = writeln!(o, "  {n:>8}  {f} {kind}: {reason}");
                    }
                }
            }
        }
    }

    h(
        &mut o,
        "Whose changes would have been reverted (exempt the pipelines among them before enforcing)",
    );
    let totals: std::collections::BTreeMap<String, u64> = s
        .actors
        .iter()
        .map(|(a, m)| (a.clone(), m.values().sum()))
        .collect();
    for (actor, n) in Summary::top(&totals, TOP) {
        let functions = s.actors[&actor]
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if markdown {
            let _ = writeln!(o, "- `{actor}` ×{n} ({functions})");
        } else {
            let _ = writeln!(o, "  {n:>8}  {actor} ({functions})");
        }
    }

    h(&mut o, "By day");
    if markdown {
        header(&mut o, &["day", "remediate", "notify", "ignore"]);
    }
    for (day, m) in &s.timeline {
        let (r, n, i) = kinds(Some(m));
        if markdown {
            row(
                &mut o,
                &[day.clone(), r.to_string(), n.to_string(), i.to_string()],
            );
        } else {
            let _ = writeln!(
                o,
                "  {day:<12}{r:>10} remediate{n:>10} notify{i:>10} ignore"
            );
        }
    }

    if !s.assumed.is_empty() {
        h(
            &mut o,
            "Facts a backtest cannot look up (taken as absent, as `trailguard decide` does)",
        );
        for (fact, n) in &s.assumed {
            let _ = writeln!(
                o,
                "{}{fact}: {n} decisions",
                if markdown { "- " } else { "  " }
            );
        }
    }
    if s.skipped > 0 {
        h(&mut o, &format!("Skipped objects ({})", s.skipped));
        for k in &s.skipped_objects {
            let _ = writeln!(
                o,
                "{}{}: {}",
                if markdown { "- " } else { "  " },
                k.object,
                k.problem
            );
        }
        if s.skipped as usize > s.skipped_objects.len() {
            let _ = writeln!(
                o,
                "  … and {} more",
                s.skipped as usize - s.skipped_objects.len()
            );
        }
    }
    o
}
