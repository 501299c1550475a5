//! The README's policy table names every field `trailguard policy default` prints, and only
//! those: a setting added to a guard without its row (or a row left behind by a removed
//! setting) fails here, with every such field in one message.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use trailguard_rules::Policy;

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

/// The field names in the first column of the README's `## Policy` table: every backticked
/// name of the cell (`a` / `b` and `a`, `b` rows name two; `mode.<guard>` names a map's
/// entries).
fn table_names(readme: &str) -> Vec<String> {
    let section = readme
        .split("\n## Policy\n")
        .nth(1)
        .expect("README has a `## Policy` section");
    let table = section
        .split("| field | default | meaning |")
        .nth(1)
        .expect("the Policy section has a `| field | default | meaning |` table");
    table
        .lines()
        .skip(2) // the rest of the header line and `|---|---|---|`
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_readme_policy_table_names_every_field_and_no_other() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let printed: Value = serde_json::from_str(&Policy::default().to_json_pretty())
        .expect("`trailguard policy default` prints JSON");
    let mut fields = BTreeSet::new();
    leaves("", &printed, &mut fields);
    let named = table_names(&readme);
    assert!(
        !named.is_empty(),
        "no field names in the README's policy table"
    );

    // `a.<placeholder>` names the entries of the map `a`.
    let map_of = |n: &str| n.split_once(".<").map(|(map, _)| map.to_string());
    let covered = |field: &str| {
        named.iter().any(|n| {
            n == field
                || map_of(n).is_some_and(|m| field == m || field.starts_with(&format!("{m}.")))
        })
    };
    let missing: Vec<&String> = fields.iter().filter(|f| !covered(f)).collect();
    let unknown: Vec<&String> = named
        .iter()
        .filter(|n| match map_of(n) {
            Some(m) => !printed
                .pointer(&format!("/{}", m.replace('.', "/")))
                .is_some_and(Value::is_object),
            None => !fields.contains(*n),
        })
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README.md's policy table is out of step with `trailguard policy default`:\n  \
         fields without a row: {missing:?}\n  rows naming no field: {unknown:?}"
    );
}
