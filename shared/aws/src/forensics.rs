//! The key-activity summary: what a compromised key did in the last hours.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::ports::TrailEvent;

fn top(counts: BTreeMap<String, usize>, n: usize) -> Vec<Value> {
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter()
        .take(n)
        .map(|(k, c)| json!({"value": k, "count": c}))
        .collect()
}

pub fn summarize(events: &[TrailEvent], hours: u32) -> Value {
    let mut names = BTreeMap::new();
    let mut ips = BTreeMap::new();
    let mut regions = BTreeMap::new();
    for e in events {
        *names.entry(e.name.clone()).or_insert(0) += 1;
        if let Some(ip) = &e.source_ip {
            *ips.entry(ip.clone()).or_insert(0) += 1;
        }
        if let Some(r) = &e.region {
            *regions.entry(r.clone()).or_insert(0) += 1;
        }
    }
    let times: Vec<i64> = events.iter().filter_map(|e| e.time).collect();
    json!({
        "hours": hours,
        "events": events.len(),
        "top_event_names": top(names, 5),
        "source_ips": top(ips, 5),
        "regions": top(regions, 5),
        "first_seen": times.iter().min().map(|t| trailguard_rules::time::format_epoch(*t)),
        "last_seen": times.iter().max().map(|t| trailguard_rules::time::format_epoch(*t)),
    })
}
