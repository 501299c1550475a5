//! The stack's dashboard plots only metrics the functions emit: every trailguard metric in
//! template.yaml's dashboard is one `metrics.rs` declares, with the dimensions it is emitted
//! with, and every one worth plotting is plotted.

use serde_json::Value;
use trailguard_aws::metrics::{
    COUNTERS, NAMESPACE, OUTCOME_DIMENSIONS, SWEEP_DIMENSIONS, SWEEP_METRICS,
};

fn template() -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    std::fs::read_to_string(path).unwrap()
}

/// The dashboard's body as JSON (each `${Name}` substitution replaced by `Name`).
fn dashboard() -> Value {
    let template = template();
    let start = template
        .find("DashboardBody: !Sub |\n")
        .expect("template.yaml has a dashboard")
        + "DashboardBody: !Sub |\n".len();
    let end = template[start..]
        .find("\n\n")
        .map_or(template.len(), |e| start + e);
    let mut body = String::new();
    let mut rest = &template[start..end];
    while let Some(i) = rest.find("${") {
        body.push_str(&rest[..i]);
        let end = i + rest[i..].find('}').unwrap();
        body.push_str(&rest[i + 2..end]);
        rest = &rest[end + 1..];
    }
    body.push_str(rest);
    serde_json::from_str(&body).expect("the dashboard body is JSON")
}

/// (dimensions, metric name) of every `SEARCH('{NAMESPACE,...} MetricName="..."')`.
fn plotted(dashboard: &Value) -> Vec<(Vec<String>, String)> {
    let mut out = vec![];
    for w in dashboard["widgets"].as_array().unwrap() {
        for row in w["properties"]["metrics"].as_array().into_iter().flatten() {
            for item in row.as_array().into_iter().flatten() {
                let Some(expr) = item["expression"].as_str() else {
                    continue;
                };
                let Some(schema) = expr
                    .split_once(&format!("{{{NAMESPACE},"))
                    .and_then(|(_, r)| r.split_once('}'))
                else {
                    continue;
                };
                let dims = schema.0.split(',').map(String::from).collect();
                let name = schema
                    .1
                    .split_once("MetricName=\"")
                    .and_then(|(_, r)| r.split_once('"'))
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_else(|| panic!("{expr}: no MetricName"));
                out.push((dims, name));
            }
        }
    }
    out
}

#[test]
fn the_dashboard_plots_what_the_functions_emit() {
    let d = dashboard();
    let plotted = plotted(&d);
    assert!(plotted.len() >= 9, "{plotted:?}");
    let mut problems = vec![];
    for (dims, name) in &plotted {
        let (want, known): (&[&str], &[&str]) = if COUNTERS.contains(&name.as_str()) {
            (&OUTCOME_DIMENSIONS, &COUNTERS)
        } else if SWEEP_METRICS.contains(&name.as_str()) {
            (&SWEEP_DIMENSIONS, &SWEEP_METRICS)
        } else {
            problems.push(format!("{name} is plotted but no function emits it"));
            continue;
        };
        if dims != want || !known.contains(&name.as_str()) {
            problems.push(format!(
                "{name} is plotted by {dims:?}, emitted by {want:?}"
            ));
        }
    }
    // Every counter but `ignored` (most events; plotting it would drown the rest) is shown.
    for name in COUNTERS
        .iter()
        .filter(|c| **c != "ignored")
        .chain(&SWEEP_METRICS)
    {
        if !plotted.iter().any(|(_, n)| n == name) {
            problems.push(format!("{name} is emitted but not plotted"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The functions' Lambda metrics are plotted for every function, each by its own name (no
/// search that could match another stack's functions).
#[test]
fn the_dashboard_plots_every_function() {
    let d = dashboard();
    // Logical id -> the binary it runs (`BuildProperties: Binary:`), from the template.
    let template = template();
    let lines: Vec<&str> = template.lines().collect();
    let mut binaries = std::collections::BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        if *l == "    Type: AWS::Serverless::Function" {
            let id = lines[i - 1].trim().trim_end_matches(':').to_string();
            let binary = lines[i + 1..]
                .iter()
                .take_while(|l| l.is_empty() || l.starts_with("    "))
                .find_map(|l| l.trim().strip_prefix("Binary: "));
            if let Some(b) = binary {
                binaries.insert(id, b.to_string());
            }
        }
    }
    let mut want: Vec<&str> = trailguard_rules::Guard::all()
        .map(|g| g.function_name())
        .collect();
    want.sort();
    for metric in ["Errors", "Throttles", "Duration"] {
        let mut labels: Vec<String> = d["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|w| {
                w["properties"]["metrics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|row| row[0] == "AWS/Lambda" && row[1] == metric)
            .map(|row| {
                assert_eq!(row[2], "FunctionName", "{row}");
                let label = row[4]["label"].as_str().unwrap().to_string();
                assert_eq!(
                    binaries.get(row[3].as_str().unwrap()),
                    Some(&label),
                    "{metric}: {row} plots another function than its label says"
                );
                label
            })
            .collect();
        labels.sort();
        assert_eq!(labels, want, "{metric}");
    }
}
