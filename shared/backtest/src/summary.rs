//! What a backtest found, as counts that add up: a summary of one file, of a Lambda's batch
//! or of a whole archive is the same type, and merging summaries in any order gives the same
//! summary (everything is a sum or a union, kept in sorted maps). So one machine and a
//! thousand Lambdas give identical reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The most skipped objects named one by one (the count is always exact).
pub const SKIPPED_LISTED: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Objects (files) read, records in them, and their size once decompressed.
    pub objects: u64,
    pub records: u64,
    pub bytes: u64,
    /// Objects left out by the date, account or region filters without being read.
    pub objects_filtered: u64,
    /// Records read but outside the filters (their own time, account or region).
    pub records_filtered: u64,
    /// Records no function's rule would have delivered.
    pub not_delivered: u64,
    /// function -> decision (`ignore` | `notify` | `remediate`) -> records.
    pub decisions: BTreeMap<String, BTreeMap<String, u64>>,
    /// function -> decision -> reason -> records (notify and remediate only: an ignore's
    /// reason is rarely worth reading, and there are many).
    pub reasons: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// Remediations that would have waited for a person (the policy's mode `approve` for
    /// the function in the record's account): function -> records.
    pub awaiting_approval: BTreeMap<String, u64>,
    /// Who made the changes that would have been reverted: actor -> function -> records.
    /// The pipelines among them are the principals to exempt before enforcing.
    pub actors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Day (YYYY-MM-DD, the record's time) -> decision -> records delivered to a function.
    pub timeline: BTreeMap<String, BTreeMap<String, u64>>,
    /// Day -> function -> decision (`notify` | `remediate`) -> records: the page's chart.
    pub daily: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// Facts the rules needed and a backtest cannot look up (taken as absent, as in
    /// `trailguard decide`): fact -> decisions that assumed it.
    pub assumed: BTreeMap<String, u64>,
    /// Records that are not valid JSON or not a CloudTrail record.
    pub bad_records: u64,
    /// Objects that could not be read (corrupt gzip, not a CloudTrail log, unreadable):
    /// counted, the first [`SKIPPED_LISTED`] named.
    pub skipped: u64,
    pub skipped_objects: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    pub object: String,
    pub problem: String,
}

fn add<K: Ord + Clone>(to: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, n) in from {
        *to.entry(k.clone()).or_default() += n;
    }
}

impl Summary {
    /// Add `other` to this summary.
    pub fn merge(&mut self, other: &Summary) {
        self.objects += other.objects;
        self.records += other.records;
        self.bytes += other.bytes;
        self.objects_filtered += other.objects_filtered;
        self.records_filtered += other.records_filtered;
        self.not_delivered += other.not_delivered;
        self.bad_records += other.bad_records;
        self.skipped += other.skipped;
        for (f, m) in &other.decisions {
            add(self.decisions.entry(f.clone()).or_default(), m);
        }
        for (f, by_kind) in &other.reasons {
            let mine = self.reasons.entry(f.clone()).or_default();
            for (k, m) in by_kind {
                add(mine.entry(k.clone()).or_default(), m);
            }
        }
        for (a, m) in &other.actors {
            add(self.actors.entry(a.clone()).or_default(), m);
        }
        for (d, m) in &other.timeline {
            add(self.timeline.entry(d.clone()).or_default(), m);
        }
        for (d, by_function) in &other.daily {
            let mine = self.daily.entry(d.clone()).or_default();
            for (f, m) in by_function {
                add(mine.entry(f.clone()).or_default(), m);
            }
        }
        add(&mut self.assumed, &other.assumed);
        add(&mut self.awaiting_approval, &other.awaiting_approval);
        // The listed skips are the smallest names: the same whatever the merge order.
        self.skipped_objects
            .extend(other.skipped_objects.iter().cloned());
        self.skipped_objects.sort();
        self.skipped_objects.dedup();
        self.skipped_objects.truncate(SKIPPED_LISTED);
    }

    pub fn skip(&mut self, object: &str, problem: impl Into<String>) {
        self.skipped += 1;
        self.skipped_objects.push(Skipped {
            object: object.to_string(),
            problem: problem.into(),
        });
        self.skipped_objects.sort();
        self.skipped_objects.truncate(SKIPPED_LISTED);
    }

    /// Records delivered to `function` with `decision`.
    pub fn count(&self, function: &str, decision: &str) -> u64 {
        self.decisions
            .get(function)
            .and_then(|m| m.get(decision))
            .copied()
            .unwrap_or(0)
    }

    /// The `n` largest entries of a count map, largest first (ties by key).
    pub fn top<K: Clone + Ord>(m: &BTreeMap<K, u64>, n: usize) -> Vec<(K, u64)> {
        let mut v: Vec<(K, u64)> = m.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(function: &str, kind: &str, day: &str) -> Summary {
        let mut s = Summary {
            objects: 1,
            records: 10,
            ..Summary::default()
        };
        s.decisions
            .entry(function.into())
            .or_default()
            .insert(kind.into(), 1);
        s.timeline
            .entry(day.into())
            .or_default()
            .insert(kind.into(), 1);
        s.daily
            .entry(day.into())
            .or_default()
            .entry(function.into())
            .or_default()
            .insert(kind.into(), 1);
        s
    }

    #[test]
    fn merging_adds_up_in_any_order() {
        let parts = [
            one("revert-security-group", "remediate", "2026-08-01"),
            one("revert-security-group", "ignore", "2026-08-02"),
            one("guard-iam", "notify", "2026-08-01"),
        ];
        let mut a = Summary::default();
        parts.iter().for_each(|p| a.merge(p));
        let mut b = Summary::default();
        parts.iter().rev().for_each(|p| b.merge(p));
        assert_eq!(a, b);
        assert_eq!(a.records, 30);
        assert_eq!(a.count("revert-security-group", "remediate"), 1);
        assert_eq!(a.timeline["2026-08-01"].values().sum::<u64>(), 2);
        assert_eq!(a.daily["2026-08-01"]["guard-iam"]["notify"], 1);
        assert_eq!(a.daily["2026-08-01"].len(), 2);
        let mut x = Summary::default();
        x.skip("b", "corrupt");
        let mut y = Summary::default();
        y.skip("a", "corrupt");
        let (mut xy, mut yx) = (x.clone(), y.clone());
        xy.merge(&y);
        yx.merge(&x);
        assert_eq!(xy, yx);
        assert_eq!(xy.skipped, 2);
    }
}
