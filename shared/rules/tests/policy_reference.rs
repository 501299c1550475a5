//! The policy reference (docs/src/policy.md) against the policy the code validates, field by
//! field: every field `trailguard policy default` prints has a row, no row names a field the
//! code does not know, each row sits under the heading of the guard that owns the field (or
//! under "Shared settings" for the keys every guard may read), and each default cell is that
//! field's default as JSON. Every failure is listed in one message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use trailguard_rules::{Guard, Policy};

const SHARED_HEADING: &str = "## Shared settings";
const TABLE_HEADER: &str = "| field | default | meaning |";

/// Who owns a field: the shared settings, or one guard (by its name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Shared,
    Guard(&'static str),
}

/// A guard's settings heading: `### <name> (<function>)`, the format guard pages link to.
fn guard_heading(g: Guard) -> String {
    format!("### {} ({})", g.name(), g.function_name())
}

/// The dotted names of the leaves of `v` (an empty object is a leaf: a map whose keys the
/// user chooses, such as `max_actions_per_hour`).
fn leaves(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&name, child, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// The backticked spans of a table cell, in order.
fn spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `a.<placeholder>` names the entries of the map `a`.
fn map_of(name: &str) -> Option<&str> {
    name.split_once(".<").map(|(map, _)| map)
}

/// One row of a policy table: the fields it names, their default cells, the heading above
/// it, and its line (for messages).
struct Row {
    names: Vec<String>,
    defaults: Vec<String>,
    meaning: String,
    owner: Option<Owner>,
    line: usize,
}

/// Every row of every `| field | default | meaning |` table in the page, with the owner its
/// heading names (None: a heading that names no owner). Headings that look like a guard's
/// but name no guard, or the wrong function, are reported.
fn rows(page: &str, problems: &mut Vec<String>) -> Vec<Row> {
    let headings: BTreeMap<String, Owner> = Guard::all()
        .map(|g| (guard_heading(g), Owner::Guard(g.name())))
        .chain([(SHARED_HEADING.to_string(), Owner::Shared)])
        .collect();
    let mut owner = None;
    let mut in_table = false;
    let mut out = Vec::new();
    for (i, line) in page.lines().enumerate() {
        let line_no = i + 1;
        if line.starts_with('#') {
            owner = headings.get(line.trim_end()).cloned();
            if owner.is_none() && line.starts_with("### ") && line.trim_end().ends_with(')') {
                problems.push(format!(
                    "line {line_no}: `{line}` looks like a guard's heading but names no guard and its function (`### <name> (<function>)`)"
                ));
            }
            in_table = false;
            continue;
        }
        if line.trim_end() == TABLE_HEADER {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if line.starts_with("|---") {
            continue;
        }
        let cells: Vec<&str> = line.split(" | ").collect();
        if cells.len() < 3 {
            problems.push(format!(
                "line {line_no}: a row without its three cells: {line}"
            ));
            continue;
        }
        out.push(Row {
            names: spans(cells[0].trim_start_matches('|')),
            defaults: spans(cells[1]),
            meaning: cells[2..].join(" | "),
            owner: owner.clone(),
            line: line_no,
        });
    }
    out
}

/// The owner of a top-level key: the guard whose settings hold it, else the shared settings.
fn owners() -> BTreeMap<String, Owner> {
    let mut by_key = BTreeMap::new();
    for g in Guard::all() {
        if let Some(spec) = g.spec().settings {
            for k in spec.keys() {
                by_key.insert(k, Owner::Guard(g.name()));
            }
        }
    }
    by_key
}

fn owner_of(field: &str, by_key: &BTreeMap<String, Owner>) -> Owner {
    let top = field.split('.').next().unwrap_or(field);
    by_key.get(top).cloned().unwrap_or(Owner::Shared)
}

/// Every way the page is out of step with the code.
fn problems_with(page: &str) -> Vec<String> {
    let printed: Value = serde_json::from_str(&Policy::default().to_json_pretty())
        .expect("`trailguard policy default` prints JSON");
    let mut fields = BTreeSet::new();
    leaves("", &printed, &mut fields);
    let by_key = owners();
    let mut problems = Vec::new();

    for g in Guard::all() {
        let has_settings = g.spec().settings.is_some_and(|s| !s.keys().is_empty());
        let heading = guard_heading(g);
        let present = page.lines().any(|l| l.trim_end() == heading);
        if has_settings && !present {
            problems.push(format!(
                "guard {} owns settings but the page has no `{heading}` heading",
                g.name()
            ));
        }
        if !has_settings && present {
            problems.push(format!("`{heading}`: guard {} owns no settings", g.name()));
        }
    }
    if !page.lines().any(|l| l.trim_end() == SHARED_HEADING) {
        problems.push(format!("no `{SHARED_HEADING}` heading"));
    }

    let rows = rows(page, &mut problems);
    if rows.is_empty() {
        problems.push(format!("no `{TABLE_HEADER}` table rows"));
    }
    let mut named = Vec::new();
    for row in &rows {
        let at = format!("line {}", row.line);
        if row.names.is_empty() {
            problems.push(format!("{at}: a row that names no field"));
            continue;
        }
        if row.defaults.len() != row.names.len() {
            problems.push(format!(
                "{at}: {} field(s) {:?} but {} default(s) {:?}: one backticked JSON default per field, in order",
                row.names.len(),
                row.names,
                row.defaults.len(),
                row.defaults
            ));
        }
        if row.meaning.trim().trim_end_matches('|').trim().is_empty() {
            problems.push(format!("{at}: `{}` has no meaning", row.names[0]));
        }
        for (i, name) in row.names.iter().enumerate() {
            // The value the default cell must equal: the field's, or the whole map's.
            let path = map_of(name).unwrap_or(name);
            let default = printed.pointer(&format!("/{}", path.replace('.', "/")));
            let known = match map_of(name) {
                Some(_) => default.is_some_and(Value::is_object),
                None => fields.contains(name),
            };
            if !known {
                problems.push(format!("{at}: `{name}` names no field of the policy"));
                continue;
            }
            named.push(name.clone());
            let owner = owner_of(name, &by_key);
            match &row.owner {
                Some(o) if *o == owner => {}
                Some(o) => problems.push(format!(
                    "{at}: `{name}` belongs under {owner:?}'s heading, not {o:?}'s"
                )),
                None => problems.push(format!(
                    "{at}: `{name}` is in a table under no owner's heading (`{SHARED_HEADING}` or `### <name> (<function>)`)"
                )),
            }
            let Some(cell) = row.defaults.get(i) else {
                continue;
            };
            match serde_json::from_str::<Value>(cell) {
                Ok(v) if Some(&v) == default => {}
                Ok(_) => problems.push(format!(
                    "{at}: `{name}` default `{cell}`, but `trailguard policy default` prints `{}`",
                    default.map(Value::to_string).unwrap_or_default()
                )),
                Err(e) => {
                    problems.push(format!("{at}: `{name}` default `{cell}` is not JSON ({e})"))
                }
            }
        }
    }

    let covered = |field: &str| {
        named.iter().any(|n| {
            n == field
                || map_of(n).is_some_and(|m| field == m || field.starts_with(&format!("{m}.")))
        })
    };
    for f in fields.iter().filter(|f| !covered(f)) {
        problems.push(format!("`{f}` has no row"));
    }
    let mut seen = BTreeSet::new();
    for n in &named {
        if !seen.insert(n) {
            problems.push(format!("`{n}` has two rows"));
        }
    }

    // The breaker row states each guard's own default, which lives in its declaration.
    if let Some(row) = rows
        .iter()
        .find(|r| r.names.iter().any(|n| n == "max_actions_per_hour.<guard>"))
    {
        for g in Guard::all() {
            let said = format!("`{}` {}", g.name(), g.spec().max_actions_per_hour);
            if !row.meaning.contains(&said) {
                problems.push(format!(
                    "line {}: `max_actions_per_hour.<guard>` does not say {said} (the guard's declared default)",
                    row.line
                ));
            }
        }
    } else {
        problems.push("no `max_actions_per_hour.<guard>` row".into());
    }
    problems
}

fn policy_page() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/policy.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_policy_reference_matches_the_policy_field_by_field() {
    let problems = problems_with(&policy_page());
    assert!(
        problems.is_empty(),
        "docs/src/policy.md is out of step with `trailguard policy default` and the guards' settings:\n  {}",
        problems.join("\n  ")
    );
}

/// The check itself: a wrong default, a row under the wrong owner and a missing row are each
/// found in an otherwise correct page.
#[test]
fn a_wrong_default_a_misplaced_row_and_a_missing_row_are_each_reported() {
    let page = policy_page();
    let wrong_default = page.replacen(
        "| `public_ports` | `[\"tcp/80\",\"tcp/443\"]`",
        "| `public_ports` | `[\"tcp/80\"]`",
        1,
    );
    assert_ne!(
        wrong_default, page,
        "the page has the public_ports row this test edits"
    );
    let found = problems_with(&wrong_default);
    assert!(
        found.iter().any(|p| p.contains("`public_ports` default")),
        "{found:?}"
    );

    let row = page
        .lines()
        .find(|l| l.starts_with("| `kms_admins` |"))
        .expect("a kms_admins row");
    let moved = page.replacen(&format!("{row}\n"), "", 1).replacen(
        &format!("{TABLE_HEADER}\n|---|---|---|\n"),
        &format!("{TABLE_HEADER}\n|---|---|---|\n{row}\n"),
        1,
    );
    let found = problems_with(&moved);
    assert!(
        found
            .iter()
            .any(|p| p.contains("`kms_admins` belongs under Guard(\"encryption_keys\")")),
        "{found:?}"
    );

    let dropped = page.replacen(&format!("{row}\n"), "", 1);
    let found = problems_with(&dropped);
    assert!(
        found.iter().any(|p| p == "`kms_admins` has no row"),
        "{found:?}"
    );
}
