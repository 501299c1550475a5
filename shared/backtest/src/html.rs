//! The summary as one self-contained page: `trailguard backtest --html FILE`, and
//! `summary.html` beside `summary.md` in a distributed run. It opens from an S3 link or an
//! email attachment, so everything is inline (styles, the SVG chart) and its
//! Content-Security-Policy refuses anything else: no script, font, image or style from
//! anywhere. Every string from the records (actors, reasons, object names) is escaped.
//!
//! Every number on the page is a `<data>` element (or a chart bar) whose `data-key` is the
//! JSON pointer of that number in the JSON summary (`--json`): the browser check
//! (`scripts/check_page.py`) reads each one back and compares.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::summary::Summary;

/// Reasons listed per function and decision, actors listed.
const TOP_REASONS: usize = 10;
const TOP_ACTORS: usize = 25;
/// The chart's bar area, in pixels, and one day's width (two columns and a gap).
const BAR_HEIGHT: f64 = 180.0;
const BAR_WIDTH: f64 = 10.0;
const DAY_WIDTH: f64 = 2.0 * BAR_WIDTH + 10.0;
const LEFT: f64 = 48.0;
const TOP: f64 = 10.0;

/// The most days the chart draws (the latest ones): records can carry any time, and a page
/// must stay a page.
pub const CHART_DAYS: usize = 400;

/// The decisions a day's chart stacks, one column each, in this order.
pub const CHARTED: [&str; 2] = ["remediate", "notify"];

/// Function colours, assigned in the order of the functions' names.
const PALETTE: [&str; 16] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#636363",
];

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1b1b1b}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:4px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12.5px;word-break:break-all}
dl.totals{display:grid;grid-template-columns:max-content max-content;gap:2px 16px}dl.totals dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
.chart-wrap{overflow-x:auto;border:1px solid #eee;padding:6px}svg text{font:10px system-ui,sans-serif;fill:#444}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px}ul.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px}
rect.notify{opacity:.5}.muted{color:#666}
";

/// `s` escaped for HTML text and attribute values; the characters that could make a name
/// read as another ([`hidden`]: `user/\u{202E}enilepip-ic` shown as `user/ci-pipeline`)
/// become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if hidden(c) => o.push('\u{FFFD}'),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A character that changes or hides what the text around it reads as: controls,
/// bidirectional controls, and the invisible ones (zero-width spaces and joiners, the soft
/// hyphen, the byte order mark, tag characters), which make one name look like another.
fn hidden(c: char) -> bool {
    c.is_control()
        || trailguard_rules::render::is_bidi_control(c)
        || matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}')
}

/// `s` escaped for an attribute the page does not show (`data-key`, `data-day`): exact, so
/// the browser check reads back the summary's own key (an attribute's value reorders no
/// text). The C0 controls are written as numeric references, which HTML reads back exactly
/// (but NUL, which it reads as U+FFFD); the C1 controls stay as they are, since HTML reads
/// their references as Windows-1252 characters.
pub fn escape_attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => o.push('\u{FFFD}'),
            '\u{1}'..='\u{1F}' | '\u{7F}' => o.push_str(&format!("&#x{:X};", c as u32)),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The JSON pointer (RFC 6901) of a value in the JSON summary.
pub fn pointer(path: &[&str]) -> String {
    path.iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut o = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// A number of the summary: its value, its place in the JSON, shown with separators.
fn num(path: &[&str], n: u64) -> String {
    format!(
        "<data value=\"{n}\" data-key=\"{}\">{}</data>",
        escape_attr(&pointer(path)),
        grouped(n)
    )
}

fn get(m: Option<&BTreeMap<String, u64>>, k: &str) -> u64 {
    m.and_then(|m| m.get(k)).copied().unwrap_or(0)
}

/// The days the chart shows: every day a record was delivered to a function on.
pub fn days(s: &Summary) -> Vec<String> {
    let all: BTreeSet<&String> = s.timeline.keys().chain(s.daily.keys()).collect();
    all.into_iter().cloned().collect()
}

/// The functions the page names, in the order their colours are given.
fn functions(s: &Summary) -> Vec<String> {
    let all: BTreeSet<&String> = s
        .decisions
        .keys()
        .chain(s.daily.values().flat_map(|m| m.keys()))
        .collect();
    all.into_iter().cloned().collect()
}

fn chart(o: &mut String, s: &Summary, days: &[String], colour: &BTreeMap<String, &str>) {
    let column = |day: &str, kind: &str| -> u64 {
        s.daily
            .get(day)
            .map(|m| m.values().map(|k| get(Some(k), kind)).sum())
            .unwrap_or(0)
    };
    let max = days
        .iter()
        .flat_map(|d| CHARTED.map(|k| column(d, k)))
        .max()
        .unwrap_or(0)
        .max(1);
    let width = LEFT + DAY_WIDTH * days.len() as f64 + 10.0;
    let height = TOP + BAR_HEIGHT + 60.0;
    let base = TOP + BAR_HEIGHT;
    let _ = writeln!(
        o,
        "<div class=\"chart-wrap\"><svg class=\"chart\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"Records decided notify or remediate, per day and function\" data-max=\"{max}\" data-bar-height=\"{BAR_HEIGHT}\">"
    );
    // The axis: 0 and the largest column.
    let _ = writeln!(
        o,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{width:.0}\" y2=\"{base}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        LEFT - 4.0,
        base + 3.0,
        LEFT - 4.0,
        TOP + 8.0,
        grouped(max)
    );
    for (i, day) in days.iter().enumerate() {
        let x0 = LEFT + DAY_WIDTH * i as f64 + 4.0;
        let _ = writeln!(o, "<g class=\"day\" data-day=\"{}\">", escape_attr(day));
        for (c, kind) in CHARTED.iter().enumerate() {
            let x = x0 + BAR_WIDTH * c as f64;
            let _ = write!(o, "<g class=\"column\" data-kind=\"{kind}\">");
            let mut y = base;
            if let Some(by_function) = s.daily.get(day) {
                for (function, kinds) in by_function {
                    let n = get(Some(kinds), kind);
                    if n == 0 {
                        continue;
                    }
                    let h = n as f64 * BAR_HEIGHT / max as f64;
                    y -= h;
                    let _ = write!(
                        o,
                        "<rect class=\"{kind}\" x=\"{x:.1}\" y=\"{y:.3}\" width=\"{:.1}\" height=\"{h:.3}\" fill=\"{}\" data-key=\"{}\" data-value=\"{n}\"><title>{} {} {kind}: {}</title></rect>",
                        BAR_WIDTH - 1.0,
                        colour.get(function).copied().unwrap_or("#999"),
                        escape_attr(&pointer(&["daily", day, function, kind])),
                        escape(day),
                        escape(function),
                        grouped(n)
                    );
                }
            }
            let _ = write!(o, "</g>");
        }
        let lx = x0 + BAR_WIDTH;
        let ly = base + 8.0;
        let label = day.get(5..).unwrap_or(day);
        let _ = writeln!(
            o,
            "<text x=\"{lx:.1}\" y=\"{ly}\" transform=\"rotate(60 {lx:.1} {ly})\">{}</text></g>",
            escape(label)
        );
    }
    let _ = writeln!(o, "</svg></div>");
}

/// The summary as one HTML page.
pub fn html(s: &Summary) -> String {
    let mut o = String::new();
    let days = days(s);
    let functions = functions(s);
    let colour: BTreeMap<String, &str> = functions
        .iter()
        .enumerate()
        .map(|(i, f)| (f.clone(), PALETTE[i % PALETTE.len()]))
        .collect();
    let first_last = match (days.first(), days.last()) {
        (Some(a), Some(b)) if a != b => format!("{} to {}", escape(a), escape(b)),
        (Some(a), _) => escape(a),
        _ => "no records delivered to a function".into(),
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>trailguard backtest</title><style>{STYLE}</style></head><body>\n\
         <h1>trailguard backtest</h1><p class=\"muted\">What trailguard would have done over these CloudTrail logs: {first_last}.</p>\n"
    );

    let _ = writeln!(o, "<h2>Read</h2><dl class=\"totals\">");
    for (label, key, n) in [
        ("objects (files) read", "objects", s.objects),
        (
            "objects left out by the filters",
            "objects_filtered",
            s.objects_filtered,
        ),
        ("records", "records", s.records),
        ("bytes, decompressed", "bytes", s.bytes),
        (
            "records outside the filters",
            "records_filtered",
            s.records_filtered,
        ),
        (
            "records delivered to no function",
            "not_delivered",
            s.not_delivered,
        ),
        ("records not readable", "bad_records", s.bad_records),
        ("objects skipped", "skipped", s.skipped),
    ] {
        let _ = writeln!(o, "<dt>{label}</dt><dd>{}</dd>", num(&[key], n));
    }
    let _ = writeln!(o, "</dl>");

    let _ = writeln!(
        o,
        "<h2>By day</h2><p class=\"muted\">Records decided per day (the record's own time): for each day, <b>remediate</b> (solid) then <b>notify</b> (light), stacked by function.</p>"
    );
    let charted = &days[days.len().saturating_sub(CHART_DAYS)..];
    if charted.len() < days.len() {
        let _ = writeln!(
            o,
            "<p class=\"muted\">The latest {CHART_DAYS} of {} days; the table below has them all.</p>",
            days.len()
        );
    }
    chart(&mut o, s, charted, &colour);
    let _ = write!(o, "<ul class=\"legend\">");
    for f in &functions {
        let _ = write!(
            o,
            "<li><i style=\"background:{}\"></i>{}</li>",
            colour[f],
            escape(f)
        );
    }
    let _ = writeln!(o, "</ul>");
    let _ = writeln!(
        o,
        "<details><summary>The chart's numbers</summary><table class=\"daily\"><tr><th>day</th><th>function</th><th class=\"n\">remediate</th><th class=\"n\">notify</th></tr>"
    );
    for (day, by_function) in &s.daily {
        for (f, kinds) in by_function {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(day),
                escape(f),
                num(&["daily", day, f, "remediate"], get(Some(kinds), "remediate")),
                num(&["daily", day, f, "notify"], get(Some(kinds), "notify")),
            );
        }
    }
    let _ = writeln!(o, "</table></details>");

    let _ = writeln!(
        o,
        "<h2>Decisions by function</h2><p class=\"muted\">Records delivered to each function, by what it decided.</p><table class=\"decisions\"><tr><th>function</th><th class=\"n\">remediate</th><th class=\"n\">notify</th><th class=\"n\">ignore</th></tr>"
    );
    for (f, m) in &s.decisions {
        let _ = write!(o, "<tr><td><code>{}</code></td>", escape(f));
        for k in ["remediate", "notify", "ignore"] {
            let _ = write!(
                o,
                "<td class=\"n\">{}</td>",
                num(&["decisions", f, k], get(Some(m), k))
            );
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");

    let _ = writeln!(
        o,
        "<h2>Top reasons</h2><table class=\"reasons\"><tr><th>function</th><th>decision</th><th class=\"n\">records</th><th>reason</th></tr>"
    );
    for (f, by_kind) in &s.reasons {
        for kind in CHARTED {
            if let Some(m) = by_kind.get(kind) {
                for (reason, n) in Summary::top(m, TOP_REASONS) {
                    let _ = writeln!(
                        o,
                        "<tr><td><code>{}</code></td><td>{kind}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                        escape(f),
                        num(&["reasons", f, kind, &reason], n),
                        escape(&reason)
                    );
                }
            }
        }
    }
    let _ = writeln!(o, "</table>");

    let _ = writeln!(
        o,
        "<h2>Whose changes would have been reverted</h2><p class=\"muted\">Exempt the pipelines among them (<code>exempt_principals</code>) before enforcing.</p><table class=\"actors\"><tr><th>actor</th><th>function</th><th class=\"n\">records</th></tr>"
    );
    let totals: BTreeMap<String, u64> = s
        .actors
        .iter()
        .map(|(a, m)| (a.clone(), m.values().sum()))
        .collect();
    for (actor, _) in Summary::top(&totals, TOP_ACTORS) {
        for (f, n) in &s.actors[&actor] {
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                escape(&actor),
                escape(f),
                num(&["actors", &actor, f], *n)
            );
        }
    }
    let _ = writeln!(o, "</table>");
    if s.actors.len() > TOP_ACTORS {
        let _ = writeln!(
            o,
            "<p class=\"muted\">The {TOP_ACTORS} actors with the most records; the JSON summary lists all of them.</p>"
        );
    }

    let _ = writeln!(
        o,
        "<h2>Facts taken as absent</h2><p class=\"muted\">Facts the rules needed and a backtest cannot look up (a group's tags, an organization's accounts): taken as absent, as <code>trailguard decide</code> does.</p><table class=\"assumed\"><tr><th>fact</th><th class=\"n\">decisions</th></tr>"
    );
    if s.assumed.is_empty() {
        let _ = writeln!(o, "<tr><td colspan=\"2\" class=\"muted\">none</td></tr>");
    }
    for (fact, n) in &s.assumed {
        let _ = writeln!(
            o,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
            escape(fact),
            num(&["assumed", fact], *n)
        );
    }
    let _ = writeln!(o, "</table>");

    let _ = writeln!(
        o,
        "<h2>Unreadable</h2><p>{} records were not valid JSON or not CloudTrail records; {} objects could not be read.</p><table class=\"skipped\"><tr><th>object</th><th>problem</th></tr>",
        num(&["bad_records"], s.bad_records),
        num(&["skipped"], s.skipped)
    );
    if s.skipped_objects.is_empty() {
        let _ = writeln!(o, "<tr><td colspan=\"2\" class=\"muted\">none</td></tr>");
    }
    for k in &s.skipped_objects {
        let _ = writeln!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            escape(&k.object),
            escape(&k.problem)
        );
    }
    let _ = writeln!(o, "</table>");
    if s.skipped as usize > s.skipped_objects.len() {
        let _ = writeln!(
            o,
            "<p class=\"muted\">The first {} by name; the JSON summary counts all of them.</p>",
            s.skipped_objects.len()
        );
    }
    let _ = writeln!(o, "</body></html>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn summary() -> Summary {
        let mut s = Summary {
            objects: 3,
            records: 1234567,
            bytes: 987654321,
            ..Summary::default()
        };
        for (day, f, kind, n) in [
            ("2026-08-01", "revert-security-group", "remediate", 5),
            ("2026-08-01", "guard-iam", "notify", 2),
            ("2026-08-03", "revert-security-group", "notify", 1),
        ] {
            s.daily
                .entry(day.into())
                .or_default()
                .entry(f.into())
                .or_default()
                .insert(kind.into(), n);
            *s.decisions
                .entry(f.into())
                .or_default()
                .entry(kind.into())
                .or_default() += n;
            *s.timeline
                .entry(day.into())
                .or_default()
                .entry(kind.into())
                .or_default() += n;
        }
        s.timeline
            .entry("2026-08-02".into())
            .or_default()
            .insert("ignore".into(), 7);
        s.reasons
            .entry("guard-iam".into())
            .or_default()
            .entry("notify".into())
            .or_default()
            .insert("a/b ~ <script>alert(1)</script>".into(), 2);
        s.actors
            .entry("arn:aws:iam::111122223333:user/<img src=x onerror=alert(1)>".into())
            .or_default()
            .insert("revert-security-group".into(), 5);
        s.actors
            .entry("arn:aws:iam::111122223333:user/\u{202E}enilepip-ic\n\u{200B}\u{85}".into())
            .or_default()
            .insert("revert-security-group".into(), 1);
        s.skip("AWSLogs/\"x'&.json.gz", "corrupt gzip <b>");
        s
    }

    /// Every `data-key="…"` with the value next to it (`value` or `data-value`).
    fn numbers(page: &str) -> Vec<(String, u64)> {
        let unescape = |s: &str| {
            // Numeric references first (`&#x202E;`), then the named ones, `&amp;` last.
            let mut t = String::new();
            let mut rest = s;
            while let Some(at) = rest.find("&#x") {
                t.push_str(&rest[..at]);
                let end = at + rest[at..].find(';').unwrap();
                let code = u32::from_str_radix(&rest[at + 3..end], 16).unwrap();
                t.push(char::from_u32(code).unwrap());
                rest = &rest[end + 1..];
            }
            t.push_str(rest);
            t.replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        };
        let mut out = Vec::new();
        for (i, _) in page.match_indices("data-key=\"") {
            let tag_start = page[..i].rfind('<').unwrap();
            let tag_end = i + page[i..].find('>').unwrap();
            let tag = &page[tag_start..tag_end];
            let attr = |name: &str| {
                let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
                Some(unescape(&tag[at..at + tag[at..].find('"')?]))
            };
            let value = attr("value").or_else(|| attr("data-value")).unwrap();
            out.push((attr("data-key").unwrap(), value.parse().unwrap()));
        }
        out
    }

    #[test]
    fn every_number_is_the_json_summarys_at_its_key() {
        let s = summary();
        let page = html(&s);
        let json = serde_json::to_value(&s).unwrap();
        let numbers = numbers(&page);
        assert!(numbers.len() > 20, "{numbers:?}");
        for (key, n) in &numbers {
            let want = json.pointer(key).and_then(Value::as_u64).unwrap_or(0);
            assert_eq!(*n, want, "{key}");
        }
        // The hostile reason and actor are keys the page names exactly.
        assert!(numbers.iter().any(|(k, n)| k
            == "/reasons/guard-iam/notify/a~1b ~0 <script>alert(1)<~1script>"
            && *n == 2));
        assert!(page.contains("1,234,567") && page.contains("987,654,321"));
    }

    #[test]
    fn one_bar_group_per_day_and_nothing_from_elsewhere() {
        let page = html(&summary());
        assert_eq!(page.matches("<g class=\"day\"").count(), 3);
        for day in ["2026-08-01", "2026-08-02", "2026-08-03"] {
            assert!(page.contains(&format!("data-day=\"{day}\"")));
        }
        // Strings from records are escaped everywhere.
        assert!(!page.contains("<script"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("gzip <b>"));
        assert!(page.contains("&lt;script&gt;"));
        // A name cannot reorder the text around it.
        let shown: String = page
            .split("<td><code>")
            .skip(1)
            .filter_map(|cell| cell.split("</code>").next())
            .collect();
        assert!(
            !shown.contains(['\u{202E}', '\u{200B}', '\u{85}', '\n'])
                && shown.contains("user/\u{FFFD}enilepip-ic\u{FFFD}\u{FFFD}\u{FFFD}"),
            "{shown}"
        );
        // Nothing is loaded: no src, no link, no script, and the policy says so.
        assert!(!page.contains(" src=\"") && !page.contains("<link") && !page.contains("url("));
        assert!(page.contains("default-src 'none'"));
    }

    #[test]
    fn the_chart_draws_at_most_its_days() {
        let mut s = Summary::default();
        for d in 0..CHART_DAYS + 50 {
            let day = format!("{:04}-01-01", 1000 + d);
            s.timeline
                .entry(day.clone())
                .or_default()
                .insert("ignore".into(), 1);
        }
        let page = html(&s);
        assert_eq!(page.matches("<g class=\"day\"").count(), CHART_DAYS);
        assert!(page.contains(&format!(
            "The latest {CHART_DAYS} of {} days",
            CHART_DAYS + 50
        )));
        assert!(
            page.contains("data-day=\"1449-01-01\"") && !page.contains("data-day=\"1000-01-01\"")
        );
    }

    #[test]
    fn an_empty_summary_is_a_page() {
        let page = html(&Summary::default());
        assert!(page.contains("no records delivered to a function"));
        assert_eq!(page.matches("<g class=\"day\"").count(), 0);
    }
}
