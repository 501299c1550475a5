//! publish-findings: the remediations the functions keep in the ledger, imported into the
//! account's Security Hub as findings of its own default product (`BatchImportFindings`),
//! so that they show where the team already looks. Off unless the stack's ImportFindings
//! parameter is `true`.
//!
//! The ledger's DynamoDB stream starts it, for each report item written (a delivery that
//! changed something, or an undo of it). The stream record is only a trigger: the function
//! checks it is its own ledger's stream, then reads the item itself, so a crafted
//! invocation can at most import again what a function kept. The finding is made by
//! trailguard_rules::imported; one per event and function, so a redelivery or an undo
//! updates the same finding.

use std::collections::BTreeSet;
use std::future::Future;

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, FindingProviderFields, FindingProviderSeverity, Recommendation,
    Remediation, Resource, Severity, SeverityLabel,
};
use serde_json::{json, Value};
use trailguard_rules::imported::{self, Home, Imported};
use trailguard_rules::ops;

use crate::error::{classify, PortError};
use crate::ports::PortResult;

/// Security Hub takes at most 100 findings per call.
const BATCH: usize = 100;

/// What the function is told at cold start: its ledger and where findings go.
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// The ledger table (TRAILGUARD_LEDGER_TABLE).
    pub table: String,
    /// The account's default product (TRAILGUARD_FINDINGS_PRODUCT_ARN).
    pub home: Home,
}

impl PublishSettings {
    /// From the environment (`var` is `std::env::var` in Lambda); the error names the
    /// variable.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<PublishSettings, String> {
        let table = var("TRAILGUARD_LEDGER_TABLE")
            .filter(|t| !t.trim().is_empty())
            .ok_or("environment variable TRAILGUARD_LEDGER_TABLE: not set (the ledger table)")?;
        if !(3..=255).contains(&table.len())
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(format!(
                "environment variable TRAILGUARD_LEDGER_TABLE: `{}` is not a table name",
                table.escape_debug()
            ));
        }
        let arn = var("TRAILGUARD_FINDINGS_PRODUCT_ARN").unwrap_or_default();
        let home = Home::from_product_arn(arn.trim())
            .map_err(|e| format!("environment variable TRAILGUARD_FINDINGS_PRODUCT_ARN: {e}"))?;
        Ok(PublishSettings { table, home })
    }

    /// The ARN prefix of this ledger's streams (`arn:…:table/<table>/stream/`).
    fn stream_prefix(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}/stream/",
            self.home.partition, self.home.region, self.home.account, self.table
        )
    }
}

/// A report item of the ledger: each delivery's report, and each undo's record.
pub trait ReportSource {
    fn report_item(
        &self,
        table: &str,
        key: &str,
    ) -> impl Future<Output = PortResult<Option<(Vec<String>, Vec<String>)>>> + Send;
}

impl ReportSource for aws_sdk_dynamodb::Client {
    async fn report_item(
        &self,
        table: &str,
        key: &str,
    ) -> PortResult<Option<(Vec<String>, Vec<String>)>> {
        let Some(item) = crate::ledger::get(self, table, key).await? else {
            return Ok(None);
        };
        let list = |name: &str| -> Vec<String> {
            item.get(name)
                .and_then(|v| v.as_l().ok())
                .map(|l| l.iter().filter_map(|r| r.as_s().ok().cloned()).collect())
                .unwrap_or_default()
        };
        Ok(Some((list("reports"), list("undone"))))
    }
}

/// One finding Security Hub did not take, as it said.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// Security Hub's import.
pub trait FindingsPort {
    /// Import `findings`; the ones refused, as Security Hub names them.
    fn import(
        &self,
        findings: &[Imported],
    ) -> impl Future<Output = PortResult<Vec<Refused>>> + Send;
}

impl FindingsPort for aws_sdk_securityhub::Client {
    async fn import(&self, findings: &[Imported]) -> PortResult<Vec<Refused>> {
        let op = &ops::SECURITYHUB_BATCH_IMPORT_FINDINGS;
        let out = self
            .batch_import_findings()
            .set_findings(Some(findings.iter().map(asff).collect()))
            .send()
            .await
            .map_err(|e| classify(op, e))?;
        let refused: Vec<Refused> = out
            .failed_findings()
            .iter()
            .map(|f| Refused {
                id: f.id().unwrap_or_default().to_string(),
                code: f.error_code().unwrap_or("Failed").to_string(),
                message: f.error_message().unwrap_or_default().to_string(),
            })
            .collect();
        // Security Hub counts what it took, and names what it refused: an answer that does
        // not account for every finding sent, each once, proves nothing.
        let taken = out.success_count().unwrap_or(0).max(0) as usize;
        let sent: BTreeSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
        let named: BTreeSet<&str> = refused.iter().map(|r| r.id.as_str()).collect();
        if !named.is_subset(&sent)
            || named.len() != refused.len()
            || taken + refused.len() != findings.len()
        {
            return Err(PortError::Transient {
                op: op.api,
                code: "Unaccounted".into(),
                message: format!(
                    "{} findings sent, {taken} imported and {} refused",
                    findings.len(),
                    refused.len()
                ),
            });
        }
        Ok(refused)
    }
}

/// The finding as the SDK sends it.
fn asff(f: &Imported) -> AwsSecurityFinding {
    let label = match f.severity {
        "INFORMATIONAL" => SeverityLabel::Informational,
        "LOW" => SeverityLabel::Low,
        "HIGH" => SeverityLabel::High,
        "CRITICAL" => SeverityLabel::Critical,
        _ => SeverityLabel::Medium,
    };
    let mut b = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .set_types(Some(f.types.clone()))
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(Severity::builder().label(label.clone()).build())
        // What the provider says (Security Hub keeps the top-level fields as a person set
        // them once the finding exists).
        .finding_provider_fields(
            FindingProviderFields::builder()
                .severity(FindingProviderSeverity::builder().label(label).build())
                .set_types(Some(f.types.clone()))
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(&f.recommendation).build())
                .build(),
        )
        .set_product_fields(Some(f.product_fields.clone().into_iter().collect()))
        .set_first_observed_at(f.first_observed_at.clone())
        .set_source_url(f.source_url.clone());
    for r in &f.resources {
        b = b.resources(
            Resource::builder()
                .r#type(r.kind)
                .id(&r.id)
                .region(&r.region)
                .partition(r.partition.as_str().into())
                .build(),
        );
    }
    b.build()
}

/// Handle one batch of the ledger's stream: every report item written in it, imported as
/// its finding. The answer lists what was imported, skipped (with why) and refused. A
/// transient failure (reading the ledger, Security Hub throttling) is an error, so Lambda
/// retries the batch and, past its retries, sends it to the failure queue.
pub async fn handle(
    ledger: &impl ReportSource,
    hub: &impl FindingsPort,
    settings: &PublishSettings,
    event: &Value,
    now: i64,
) -> Result<Value, PortError> {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Err(PortError::Permanent {
            op: "publish-findings",
            code: "NotAStreamEvent".into(),
            message: "the event has no `Records`: publish-findings takes the ledger's \
                      DynamoDB stream"
                .into(),
        });
    };
    let prefix = settings.stream_prefix();
    let mut keys = BTreeSet::new();
    let mut skipped = vec![];
    for (i, r) in records.iter().enumerate() {
        let key = r
            .pointer("/dynamodb/Keys/pk/S")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let why = if r["eventSource"] != "aws:dynamodb" {
            Some("not a DynamoDB stream record")
        } else if !r["eventSourceARN"]
            .as_str()
            .is_some_and(|a| a.starts_with(&prefix))
        {
            Some("not this ledger's stream")
        } else if !matches!(r["eventName"].as_str(), Some("INSERT" | "MODIFY")) {
            Some("not a write (an item expired or removed)")
        } else if imported::report_key_parts(key).is_none() {
            Some("not a report of a function")
        } else {
            None
        };
        match why {
            Some(why) => skipped.push(json!({"record": i, "key": key, "why": why})),
            None => {
                keys.insert(key.to_string());
            }
        }
    }
    let mut findings = vec![];
    for key in &keys {
        match ledger.report_item(&settings.table, key).await? {
            None => skipped.push(json!({"key": key, "why": "the ledger no longer keeps it"})),
            Some((reports, undone)) => {
                match imported::finding(&settings.home, key, &reports, &undone, now) {
                    Ok(f) => findings.push(f),
                    Err(why) => skipped.push(json!({"key": key, "why": why})),
                }
            }
        }
    }
    let mut imported = vec![];
    let mut refused = vec![];
    for chunk in findings.chunks(BATCH) {
        let no = hub.import(chunk).await?;
        // Security Hub's own limits and throttling are worth another try; a finding it
        // finds invalid is not, and is reported.
        if let Some(r) = no.iter().find(|r| transient(&r.code)) {
            return Err(PortError::Transient {
                op: ops::SECURITYHUB_BATCH_IMPORT_FINDINGS.api,
                code: r.code.clone(),
                message: format!("{}: {}", r.id, r.message),
            });
        }
        for f in chunk {
            match no.iter().find(|r| r.id == f.id) {
                Some(r) => refused.push(json!({"id": f.id, "code": r.code, "message": r.message})),
                None => imported.push(json!(f.id)),
            }
        }
    }
    Ok(json!({
        "function": "publish-findings",
        "imported": imported,
        "refused": refused,
        "skipped": skipped,
    }))
}

/// Worth another try, and past the retries the failure queue: throttling and Security
/// Hub's limits, and its refusal to take any finding (not enabled, or no access), which
/// would otherwise drop every remediation quietly.
fn transient(code: &str) -> bool {
    [
        "Throttl",
        "LimitExceeded",
        "Internal",
        "ServiceUnavailable",
        "TooMany",
        "InvalidAccess",
        "AccessDenied",
    ]
    .iter()
    .any(|c| code.contains(c))
}

/// The IAM actions publish-findings calls: template.yaml grants exactly these (the
/// stream's own reads are Lambda's event source mapping's, granted beside them).
pub fn iam_actions() -> BTreeSet<&'static str> {
    [
        ops::LEDGER_GET.iam,
        ops::SECURITYHUB_BATCH_IMPORT_FINDINGS.iam,
    ]
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The ledger's one report, as the function kept it.
    struct OneReport(String);

    impl ReportSource for OneReport {
        async fn report_item(
            &self,
            _: &str,
            key: &str,
        ) -> PortResult<Option<(Vec<String>, Vec<String>)>> {
            Ok(
                (key == "report#ev-1#revert-security-group")
                    .then(|| (vec![self.0.clone()], vec![])),
            )
        }
    }

    /// Security Hub answering each call with the next of `answers`, recording what it got.
    struct Hub {
        answers: Mutex<Vec<PortResult<Vec<Refused>>>>,
        got: Mutex<Vec<String>>,
    }

    impl FindingsPort for Hub {
        async fn import(&self, findings: &[Imported]) -> PortResult<Vec<Refused>> {
            self.got
                .lock()
                .unwrap()
                .extend(findings.iter().map(|f| f.id.clone()));
            self.answers.lock().unwrap().remove(0)
        }
    }

    fn settings() -> PublishSettings {
        PublishSettings::from_vars(|k| match k {
            "TRAILGUARD_LEDGER_TABLE" => Some("ledger".into()),
            "TRAILGUARD_FINDINGS_PRODUCT_ARN" => Some(
                "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default".into(),
            ),
            _ => None,
        })
        .unwrap()
    }

    fn batch() -> Value {
        json!({"Records": [{
            "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026",
            "dynamodb": {"Keys": {"pk": {"S": "report#ev-1#revert-security-group"}}}
        }]})
    }

    fn ledger() -> OneReport {
        OneReport(
            json!({"event_id": "ev-1", "function": "revert-security-group", "mode": "enforce",
                   "event": {"account": "123456789012", "region": "us-east-1", "name": "AuthorizeSecurityGroupIngress"},
                   "actions": [{"type": "revoke_security_group_rules", "outcome": "done",
                                "targets": [{"field": "group_id", "kind": "security_group", "id": "sg-0123456789abcdef0"}]}]})
            .to_string(),
        )
    }

    fn hub(answer: PortResult<Vec<Refused>>) -> Hub {
        Hub {
            answers: Mutex::new(vec![answer]),
            got: Mutex::new(vec![]),
        }
    }

    #[tokio::test]
    async fn a_refused_finding_is_reported_and_throttling_is_retried() {
        let id = "trailguard/revert-security-group/ev-1";
        let h = hub(Ok(vec![]));
        let out = handle(&ledger(), &h, &settings(), &batch(), 1_800_000_000)
            .await
            .unwrap();
        assert_eq!(out["imported"], json!([id]));
        assert_eq!(*h.got.lock().unwrap(), [id]);

        // Invalid: told in the answer, not retried (it would be refused again).
        let refused = Refused {
            id: id.into(),
            code: "InvalidInput".into(),
            message: "bad".into(),
        };
        let out = handle(
            &ledger(),
            &hub(Ok(vec![refused])),
            &settings(),
            &batch(),
            1_800_000_000,
        )
        .await
        .unwrap();
        assert_eq!(out["imported"], json!([]));
        assert_eq!(out["refused"][0]["code"], "InvalidInput");

        // Throttled, in the answer or as the call's error: an error, so Lambda retries.
        let throttled = Refused {
            id: id.into(),
            code: "LimitExceededException".into(),
            message: "slow down".into(),
        };
        let e = handle(
            &ledger(),
            &hub(Ok(vec![throttled])),
            &settings(),
            &batch(),
            0,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, PortError::Transient { .. }), "{e}");
        let failing = hub(Err(PortError::Transient {
            op: "BatchImportFindings",
            code: "ThrottlingException".into(),
            message: "x".into(),
        }));
        assert!(handle(&ledger(), &failing, &settings(), &batch(), 0)
            .await
            .is_err());
    }

    #[test]
    fn a_wrong_setting_is_named() {
        let e = PublishSettings::from_vars(|_| None).unwrap_err();
        assert!(e.contains("TRAILGUARD_LEDGER_TABLE"), "{e}");
        let e =
            PublishSettings::from_vars(|k| (k == "TRAILGUARD_LEDGER_TABLE").then(|| "t/x".into()))
                .unwrap_err();
        assert!(e.contains("not a table name"), "{e}");
        let e = PublishSettings::from_vars(|k| match k {
            "TRAILGUARD_LEDGER_TABLE" => Some("ledger".into()),
            _ => Some("arn:aws:securityhub:us-east-1:123456789012:product/aws/guardduty".into()),
        })
        .unwrap_err();
        assert!(e.contains("TRAILGUARD_FINDINGS_PRODUCT_ARN"), "{e}");
    }
}
