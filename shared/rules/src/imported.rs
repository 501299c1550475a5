//! A remediation as a Security Hub finding of the account's own product (its `default`
//! product ARN): what publish-findings imports (`BatchImportFindings`) from the reports the
//! functions keep in the ledger, so that the team sees trailguard's changes in the console
//! where it already looks. One finding per event and function, its id made from both: a
//! redelivery, a later report of the same event or an undo updates the same finding.
//!
//! Only reports the ledger keeps are imported: remediations that changed something (a dry
//! run, a notice or a plan waiting for approval keeps none, undo.rs `kept`). Every value
//! that came from an event is cleaned of control characters and clipped to Security Hub's
//! field limits.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::ids::IdKind;
use crate::report::TargetRef;
use crate::Guard;

/// Security Hub takes at most 32 resources per finding.
pub const MAX_RESOURCES: usize = 32;
/// The finding type every import carries (ASFF's `namespace/category/classifier`).
pub const FINDING_TYPE: &str =
    "Software and Configuration Checks/AWS Security Best Practices/trailguard remediation";

/// Where the findings are imported: the account and region the function runs in, through
/// that account's default product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl Home {
    /// From the default product's ARN,
    /// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`.
    pub fn from_product_arn(arn: &str) -> Result<Home, String> {
        let bad = || {
            format!(
                "`{}` is not an account's default Security Hub product ARN \
                 (arn:<partition>:securityhub:<region>:<account>:product/<account>/default)",
                arn.escape_debug()
            )
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let [arn_, partition, service, region, account, resource] = parts[..] else {
            return Err(bad());
        };
        let own = format!("product/{account}/default");
        if arn_ != "arn"
            || service != "securityhub"
            || partition.is_empty()
            || !partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
            || !crate::event::is_region_name(region)
            || !crate::ids::is_account_id(account)
            || resource != own
        {
            return Err(bad());
        }
        Ok(Home {
            partition: partition.into(),
            account: account.into(),
            region: region.into(),
        })
    }

    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account, self.account
        )
    }
}

/// One resource of the finding, in ASFF's terms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    /// ASFF's resource type (`AwsEc2SecurityGroup`), `Other` when it has none.
    pub kind: &'static str,
    pub id: String,
    pub region: String,
    pub partition: String,
}

/// The finding, field by field as `BatchImportFindings` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub first_observed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// `MEDIUM` for a change in place, `INFORMATIONAL` once a person undid it.
    pub severity: &'static str,
    pub title: String,
    pub description: String,
    pub recommendation: String,
    pub source_url: Option<String>,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<Resource>,
}

/// The event id and function of a report key (`report#<event id>#<function>`, ledger.rs
/// `report_key`); None for any other key, or a function trailguard does not have.
pub fn report_key_parts(key: &str) -> Option<(&str, &str)> {
    let (event, function) = key.strip_prefix("report#")?.rsplit_once('#')?;
    (!event.is_empty() && Guard::from_function_name(function).is_some())
        .then_some((event, function))
}

/// The finding of the reports kept under `key` (`reports`: each delivery's, `undone`: each
/// undo's record, as the ledger item holds them), imported at `now` into `home`.
pub fn finding(
    home: &Home,
    key: &str,
    reports: &[String],
    undone: &[String],
    now: i64,
) -> Result<Imported, String> {
    let (event_id, function) = report_key_parts(key)
        .ok_or_else(|| format!("`{}` is not a report key", clean(key, 300)))?;
    let merged = crate::undo::merge(event_id, reports).map_err(|e| e.to_string())?;
    if merged.get("function").and_then(Value::as_str) != Some(function) {
        return Err(format!("the reports under {key} are not {function}'s"));
    }
    let plan = crate::undo::plan(&merged).map_err(|e| e.to_string())?;
    let account = plan
        .account
        .clone()
        .filter(|a| crate::ids::is_account_id(a))
        .ok_or("the reports do not say which account the remediation was done in")?;
    let region = plan
        .region
        .clone()
        .filter(|r| crate::event::is_region_name(r))
        .ok_or("the reports do not say which region the remediation was done in")?;
    let done: Vec<&Value> = merged["actions"]
        .as_array()
        .map(|a| a.iter().filter(|a| a["outcome"] == "done").collect())
        .unwrap_or_default();
    if done.is_empty() {
        return Err(format!("the reports under {key} hold no action done"));
    }

    let mut resources = BTreeSet::new();
    for a in &done {
        let targets: Vec<TargetRef> =
            serde_json::from_value(a.get("targets").cloned().unwrap_or(Value::Null))
                .unwrap_or_default();
        for t in targets.iter().filter(|t| names_a_resource(t)) {
            resources.insert(resource(t, &home.partition, &account, &region));
        }
    }
    let mut resources: Vec<Resource> = resources.into_iter().take(MAX_RESOURCES).collect();
    if resources.is_empty() {
        resources.push(Resource {
            kind: "AwsAccount",
            id: format!("AWS::::Account:{account}"),
            region: region.clone(),
            partition: home.partition.clone(),
        });
    }

    let event = &merged["event"];
    let text = |k: &str, max: usize| clean(event[k].as_str().unwrap_or("?"), max);
    let (name, actor) = (text("name", 128), text("actor", 512));
    let event_time = event["time"].as_str().and_then(crate::time::epoch);
    // An undo that changed something; whole when every step is undone and none refused
    // (an undo stops at a failed step, and is recorded all the same).
    let undos: Vec<Value> = undone
        .iter()
        .filter_map(|u| serde_json::from_str::<Value>(u).ok())
        .filter(|u| {
            u["steps"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["outcome"] == "done"))
        })
        .collect();
    let whole = |u: &Value| {
        u["refused"].is_null()
            && u["steps"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|s| s["outcome"] == "done" || s["outcome"] == "already_undone")
            })
    };
    let undone_all = undos.iter().any(whole);

    let types: Vec<String> = done
        .iter()
        .filter_map(|a| a["type"].as_str().map(|t| clean(t, 64)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut description = format!(
        "trailguard's {function} acted on {name} by {actor}, in account {account}, region \
         {region}. Done:"
    );
    for a in &done {
        let what = a["target"]
            .as_str()
            .or_else(|| a["type"].as_str())
            .unwrap_or("?");
        description.push_str(&format!(" {};", clean(what, 200)));
    }
    for u in &undos {
        description.push_str(&format!(
            " {} by {} at {}.",
            if whole(u) { "Undone" } else { "Partly undone" },
            clean(u["undone_by"].as_str().unwrap_or("?"), 200),
            clean(u["at"].as_str().unwrap_or("?"), 40)
        ));
    }
    let central = merged.get("connection").is_some_and(Value::is_object);
    let command = format!(
        "trailguard undo --dry-run --function {function}{} --table TABLE --event-id {}",
        if central { " --member-role ROLE" } else { "" },
        crate::shell::quote(event_id)
    );
    let mut recommendation = String::from(
        "Check that the change is wanted. To undo it, checked first and last action first",
    );
    let wheres = if central {
        " (TABLE: the stack's LedgerTableName; ROLE: the member role's name followed by -undo; \
         run from this account)"
    } else {
        " (TABLE: the stack's LedgerTableName)"
    };
    // The whole command or none: a command cut short could do something else.
    if recommendation.len() + command.len() + wheres.len() + 2 <= 512
        && !command.contains(char::is_control)
    {
        recommendation.push_str(&format!(": {command}{wheres}"));
    } else {
        recommendation
            .push_str(": trailguard undo --event-id with the finding's trailguard/EventId");
    }
    let mut product_fields = BTreeMap::new();
    for (k, v) in [
        ("Function", function.to_string()),
        ("EventId", clean(event_id, 512)),
        ("EventName", name.clone()),
        ("Actor", actor),
        ("Account", account.clone()),
        ("Region", region.clone()),
        ("Actions", types.join(",")),
        (
            "Undone",
            if undone_all {
                "true"
            } else if undos.is_empty() {
                "false"
            } else {
                "partly"
            }
            .to_string(),
        ),
    ] {
        product_fields.insert(format!("trailguard/{k}"), v);
    }
    let now_text = crate::time::format_epoch(now);
    Ok(Imported {
        id: format!("trailguard/{function}/{}", id_part(event_id)),
        product_arn: home.product_arn(),
        generator_id: format!("trailguard/{function}"),
        aws_account_id: home.account.clone(),
        types: vec![FINDING_TYPE.to_string()],
        first_observed_at: event_time
            .filter(|t| *t <= now)
            .map(crate::time::format_epoch),
        // When the change trailguard answered was made; never after the import.
        created_at: event_time
            .filter(|t| *t <= now)
            .map(crate::time::format_epoch)
            .unwrap_or_else(|| now_text.clone()),
        updated_at: now_text,
        severity: if undone_all {
            "INFORMATIONAL"
        } else {
            "MEDIUM"
        },
        title: clip(
            &format!(
                "trailguard {function} remediated {name} in {account} {region}{}",
                if undone_all {
                    " (undone)"
                } else if undos.is_empty() {
                    ""
                } else {
                    " (partly undone)"
                }
            ),
            256,
        ),
        description: clip(&description, 1024),
        recommendation: clip(&recommendation, 512),
        source_url: done
            .iter()
            .filter_map(|a| a["console"].as_str())
            .find(|u| u.starts_with("https://") && u.len() <= 512 && !u.contains(char::is_control))
            .map(str::to_string),
        product_fields,
        resources,
    })
}

/// Whether a target names the resource changed: not the accounts a share was taken from,
/// a rule's number or id, a statement id, nor an object key (its bucket is listed).
fn names_a_resource(t: &TargetRef) -> bool {
    t.kind.is_valid(&t.id)
        && match t.kind {
            IdKind::Account => t.field == "account_id",
            IdKind::SecurityGroupRule
            | IdKind::NetworkAclRuleNumber
            | IdKind::StatementId
            | IdKind::ObjectKey => false,
            _ => true,
        }
}

/// A target as ASFF names it: its resource type and id (an ARN where ASFF wants one).
fn resource(t: &TargetRef, partition: &str, account: &str, region: &str) -> Resource {
    let id = t.id.as_str();
    let arn = |service: &str, in_region: bool, path: &str| {
        format!(
            "arn:{partition}:{service}:{}:{account}:{path}",
            if in_region { region } else { "" }
        )
    };
    let or_arn = |full: String| {
        if id.starts_with("arn:") {
            id.to_string()
        } else {
            full
        }
    };
    let (kind, id) = match t.kind {
        IdKind::SecurityGroup => (
            "AwsEc2SecurityGroup",
            arn("ec2", true, &format!("security-group/{id}")),
        ),
        IdKind::NetworkAcl => (
            "AwsEc2NetworkAcl",
            arn("ec2", true, &format!("network-acl/{id}")),
        ),
        IdKind::Ec2Resource if id.starts_with("i-") => (
            "AwsEc2Instance",
            arn("ec2", true, &format!("instance/{id}")),
        ),
        IdKind::Bucket => ("AwsS3Bucket", format!("arn:{partition}:s3:::{id}")),
        IdKind::AccessKey => ("AwsIamAccessKey", id.to_string()),
        IdKind::IamName if t.field == "user_name" => {
            ("AwsIamUser", arn("iam", false, &format!("user/{id}")))
        }
        IdKind::IamName if t.field == "role_name" => {
            ("AwsIamRole", arn("iam", false, &format!("role/{id}")))
        }
        IdKind::Trail => (
            "AwsCloudTrailTrail",
            or_arn(arn("cloudtrail", true, &format!("trail/{id}"))),
        ),
        IdKind::KmsKeyArn => ("AwsKmsKey", id.to_string()),
        IdKind::LambdaFunction => (
            "AwsLambdaFunction",
            or_arn(arn("lambda", true, &format!("function:{id}"))),
        ),
        IdKind::DatabaseArn if id.contains(":rds:") && id.contains(":db:") => {
            ("AwsRdsDbInstance", id.to_string())
        }
        IdKind::DatabaseArn if id.contains(":rds:") && id.contains(":cluster:") => {
            ("AwsRdsDbCluster", id.to_string())
        }
        IdKind::DatabaseArn if id.contains(":redshift:") => ("AwsRedshiftCluster", id.to_string()),
        IdKind::Account => ("AwsAccount", format!("AWS::::Account:{id}")),
        _ => ("Other", id.to_string()),
    };
    Resource {
        kind,
        id: clean(&id, 512),
        region: region.to_string(),
        partition: partition.to_string(),
    }
}

/// `s` on one line: control characters (a line break, an escape) dropped, clipped to `max`.
fn clean(s: &str, max: usize) -> String {
    let one: String = s
        .chars()
        .filter(|c| !c.is_control() && !crate::render::is_bidi_control(*c))
        .collect();
    clip(&one, max)
}

/// At most `max` bytes, cut at a character boundary, with `…` where it was cut.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The event id as the finding's id names it: itself when it is plain (an EventBridge id
/// is a UUID), else a digest of it, so two ids never share a finding and no character of an
/// event's reaches the id.
fn id_part(event_id: &str) -> String {
    let plain = (1..=128).contains(&event_id.len())
        && event_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if plain {
        return event_id.to_string();
    }
    format!("h-{:016x}", crate::approval::fnv1a(event_id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn home() -> Home {
        Home::from_product_arn(
            "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
        )
        .unwrap()
    }

    fn report(event_id: &str) -> Value {
        json!({
            "event_id": event_id,
            "function": "revert-security-group",
            "mode": "enforce",
            "event": {"account": "123456789012", "region": "eu-west-1", "source": "aws.ec2",
                      "detail_type": "AWS API Call via CloudTrail",
                      "name": "AuthorizeSecurityGroupIngress", "time": "2026-12-01T10:00:00Z",
                      "actor": "arn:aws:iam::123456789012:user/mallory\n[trailguard] all clear"},
            "actions": [
                {"type": "revoke_security_group_rules", "target": "sg-0a1b2c3d4e5f60789: 1 rule",
                 "outcome": "done",
                 "console": "https://console.aws.amazon.com/ec2/home?region=eu-west-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f60789",
                 "targets": [{"field": "group_id", "kind": "security_group", "id": "sg-0a1b2c3d4e5f60789"},
                             {"field": "group_id", "kind": "security_group", "id": "sg-xxxx"}]},
                {"type": "tag_user", "target": "never ran", "outcome": "failed",
                 "targets": [{"field": "user_name", "kind": "iam_name", "id": "bob"}]}
            ]
        })
    }

    #[test]
    fn the_product_arn_is_the_accounts_own_default_product_only() {
        let h = home();
        assert_eq!(
            (h.partition.as_str(), h.account.as_str(), h.region.as_str()),
            ("aws", "123456789012", "us-east-1")
        );
        assert_eq!(
            h.product_arn(),
            "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
        );
        for bad in [
            "",
            "arn:aws:securityhub:us-east-1:123456789012:product/210987654321/default",
            "arn:aws:securityhub:us-east-1:123456789012:product/aws/guardduty",
            "arn:aws:securityhub:nowhere:123456789012:product/123456789012/default",
            "arn:aws:sns:us-east-1:123456789012:product/123456789012/default",
            "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default:x",
        ] {
            assert!(Home::from_product_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_kept_report_becomes_one_finding_of_its_event_and_function() {
        let r = report("ev-1");
        let key = "report#ev-1#revert-security-group";
        let now = crate::time::epoch("2026-12-02T00:00:00Z").unwrap();
        let f = finding(&home(), key, &[r.to_string()], &[], now).unwrap();
        assert_eq!(f.id, "trailguard/revert-security-group/ev-1");
        assert_eq!(f.generator_id, "trailguard/revert-security-group");
        assert_eq!(f.aws_account_id, "123456789012");
        assert_eq!(f.severity, "MEDIUM");
        assert_eq!(f.created_at, "2026-12-01T10:00:00Z");
        assert_eq!(f.updated_at, "2026-12-02T00:00:00Z");
        // Only what was done, only real ids, as ASFF names them, in the event's region.
        assert_eq!(f.resources.len(), 1, "{:?}", f.resources);
        assert_eq!(f.resources[0].kind, "AwsEc2SecurityGroup");
        assert_eq!(
            f.resources[0].id,
            "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0a1b2c3d4e5f60789"
        );
        assert_eq!(f.resources[0].region, "eu-west-1");
        assert!(
            f.description.contains("sg-0a1b2c3d4e5f60789: 1 rule")
                && !f.description.contains("never ran")
        );
        // A line break in the actor does not start a line of trailguard's own.
        assert!(
            !f.description.contains('\n') && !f.product_fields["trailguard/Actor"].contains('\n')
        );
        assert!(
            f.recommendation.contains(
                "trailguard undo --dry-run --function revert-security-group --table TABLE --event-id ev-1 (TABLE: "
            ),
            "{}",
            f.recommendation
        );
        assert!(!f.recommendation.contains("--member-role"));
        assert_eq!(f.source_url.as_deref(), r["actions"][0]["console"].as_str());
        assert_eq!(
            f.product_fields["trailguard/Actions"],
            "revoke_security_group_rules"
        );
        assert_eq!(f.product_fields["trailguard/Undone"], "false");

        // Undone: the same finding, told so.
        let undo = json!({"undone_by": "arn:aws:iam::123456789012:user/alice", "at": "2026-12-01T11:00:00Z",
                          "steps": [{"outcome": "done"}]});
        let g = finding(&home(), key, &[r.to_string()], &[undo.to_string()], now).unwrap();
        assert_eq!(g.id, f.id);
        assert_eq!(g.severity, "INFORMATIONAL");
        assert!(
            g.title.ends_with("(undone)")
                && g.description
                    .contains("Undone by arn:aws:iam::123456789012:user/alice")
        );
        // An undo that stopped at a failed step: partly undone, still in place.
        let partly = json!({"undone_by": "x", "at": "y", "steps": [{"outcome": "done"}, {"outcome": "failed"}]});
        let p = finding(&home(), key, &[r.to_string()], &[partly.to_string()], now).unwrap();
        assert_eq!(p.severity, "MEDIUM");
        assert!(
            p.title.ends_with("(partly undone)") && p.description.contains("Partly undone by x")
        );
        assert_eq!(p.product_fields["trailguard/Undone"], "partly");
        // An undo that changed nothing (a dry run is never recorded; a refused one) is not one.
        let refused = json!({"undone_by": "x", "at": "y", "steps": [{"outcome": "refused"}]});
        assert_eq!(
            finding(&home(), key, &[r.to_string()], &[refused.to_string()], now)
                .unwrap()
                .severity,
            "MEDIUM"
        );

        // A member account's remediation: the undo runs from here, as the member's undo role.
        let mut central = r.clone();
        central["connection"] = json!({"account": "111122223333", "region": "eu-west-1"});
        let c = finding(&home(), key, &[central.to_string()], &[], now).unwrap();
        assert!(
            c.recommendation.contains("--member-role"),
            "{}",
            c.recommendation
        );
        assert!(
            c.resources[0].id.contains(":111122223333:"),
            "{:?}",
            c.resources
        );
        assert_eq!(c.aws_account_id, "123456789012");
    }

    #[test]
    fn anything_but_a_kept_report_of_the_key_is_refused_with_the_reason() {
        let r = report("ev-1").to_string();
        let now = 1_800_000_000;
        for (key, reports, why) in [
            ("claim#ev-1#0", vec![r.clone()], "is not a report key"),
            (
                "report#ev-1#no-such-function",
                vec![r.clone()],
                "is not a report key",
            ),
            (
                "report#ev-2#revert-security-group",
                vec![r.clone()],
                "not a report of event ev-2",
            ),
            (
                "report#ev-1#guard-iam",
                vec![r.clone()],
                "are not guard-iam's",
            ),
            (
                "report#ev-1#revert-security-group",
                vec![],
                "keeps no report",
            ),
            (
                "report#ev-1#revert-security-group",
                vec!["{".into()],
                "reports[0]",
            ),
        ] {
            let e = finding(&home(), key, &reports, &[], now).unwrap_err();
            assert!(e.contains(why), "{key}: {e}");
        }
        let mut nothing = report("ev-1");
        nothing["actions"][0]["outcome"] = json!("already_done");
        let e = finding(
            &home(),
            "report#ev-1#revert-security-group",
            &[nothing.to_string()],
            &[],
            now,
        )
        .unwrap_err();
        assert!(e.contains("no action done"), "{e}");
    }

    #[test]
    fn a_future_event_time_and_long_values_stay_within_security_hubs_limits() {
        let mut r = report(&"e".repeat(600));
        r["event"]["time"] = json!("2099-01-01T00:00:00Z");
        r["event"]["name"] = json!("N".repeat(5000));
        r["actions"][0]["target"] = json!("t".repeat(5000));
        let key = format!("report#{}#revert-security-group", "e".repeat(600));
        let now = 1_800_000_000;
        let f = finding(&home(), &key, &[r.to_string()], &[], now).unwrap();
        assert_eq!(f.created_at, crate::time::format_epoch(now));
        assert_eq!(f.first_observed_at, None);
        assert!(f.id.len() <= 512 && f.title.len() <= 256 && f.description.len() <= 1024);
        // Too long for the whole command: none, rather than one cut short.
        assert!(f.recommendation.len() <= 512 && !f.recommendation.contains("--dry-run"));
        assert!(f.product_fields.values().all(|v| v.len() <= 2048));
        // Multi-byte text from an event (an object key, an actor) is cut on a character.
        let mut wide = report("ev-1");
        wide["event"]["actor"] = json!("€".repeat(700));
        wide["actions"][0]["target"] = json!("€".repeat(700));
        let w = finding(
            &home(),
            "report#ev-1#revert-security-group",
            &[wide.to_string()],
            &[],
            now,
        )
        .unwrap();
        assert!(w.description.len() <= 1024 && w.description.contains('…'));
        for n in 0..12 {
            let t = clip(&format!("{}{}", "a".repeat(n), "€".repeat(100)), 64);
            assert!(t.len() <= 64 && t.ends_with('…'), "{n}: {t}");
        }
        // Ids that differ only in characters cleaning drops are different findings.
        assert_ne!(id_part("x\u{200f}"), id_part("x"));
        assert_eq!(
            id_part("6f1e0a3c-1d2b-4c5d-9e8f-0123456789ab"),
            "6f1e0a3c-1d2b-4c5d-9e8f-0123456789ab"
        );
        assert!(id_part("a b;rm").starts_with("h-"));
    }

    #[test]
    fn every_kind_of_target_is_named_as_asff_names_it() {
        let t = |field: &str, kind: IdKind, id: &str| {
            resource(
                &TargetRef {
                    field: field.into(),
                    kind,
                    id: id.into(),
                },
                "aws",
                "123456789012",
                "us-east-1",
            )
        };
        assert_eq!(t("bucket", IdKind::Bucket, "b1").id, "arn:aws:s3:::b1");
        assert_eq!(t("user_name", IdKind::IamName, "bob").kind, "AwsIamUser");
        assert_eq!(
            t("role_name", IdKind::IamName, "r").id,
            "arn:aws:iam::123456789012:role/r"
        );
        assert_eq!(
            t(
                "trail",
                IdKind::Trail,
                "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"
            )
            .id,
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"
        );
        assert_eq!(
            t("trail", IdKind::Trail, "t").id,
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"
        );
        assert_eq!(
            t(
                "a",
                IdKind::DatabaseArn,
                "arn:aws:rds:us-east-1:123456789012:cluster:c"
            )
            .kind,
            "AwsRdsDbCluster"
        );
        assert_eq!(
            t(
                "a",
                IdKind::DatabaseArn,
                "arn:aws:redshift:us-east-1:123456789012:cluster:c"
            )
            .kind,
            "AwsRedshiftCluster"
        );
        assert_eq!(
            t("account_id", IdKind::Account, "123456789012").id,
            "AWS::::Account:123456789012"
        );
        assert_eq!(
            t("image_id", IdKind::Image, "ami-0123456789abcdef0").kind,
            "Other"
        );
        // The accounts a share was taken from, rule ids and object keys are not the resource.
        let named = |field: &str, kind: IdKind, id: &str| {
            names_a_resource(&TargetRef {
                field: field.into(),
                kind,
                id: id.into(),
            })
        };
        assert!(!named("accounts", IdKind::Account, "210987654321"));
        assert!(named("account_id", IdKind::Account, "210987654321"));
        assert!(!named(
            "rule_ids",
            IdKind::SecurityGroupRule,
            "sgr-0123456789abcdef0"
        ));
        assert!(!named("key", IdKind::ObjectKey, "a.txt"));
        assert!(!named("group_id", IdKind::SecurityGroup, "sg-xxxx"));
    }
}
