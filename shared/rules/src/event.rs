//! The event model: what EventBridge delivers to trailguard, parsed leniently.
//!
//! `aws_lambda_events`' CloudTrail type lacks `errorCode` and `userIdentity.accessKeyId`
//! and rejects records without `creationDate`, so the detail is read by trailguard's own
//! types (the functions still receive `aws_lambda_events`' EventBridge envelope). Every field
//! is optional and every reader accepts the odd shapes real records have ([`Text`] for
//! strings); what is missing is decided on later, strictly, by the guards.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::lenient::{self, Text};

/// Why a JSON document is not an event trailguard can read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("the event is not a JSON object (found {found})")]
    NotAnObject { found: &'static str },
    #[error(
        "the event has no `source` and is not a CloudTrail record (no `eventName`/`eventSource`)"
    )]
    UnknownShape,
    #[error("field `{field}` is missing or empty")]
    Missing { field: &'static str },
    #[error("field `{field}` has the wrong shape: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

/// The EventBridge envelope, without its detail (the body holds that, typed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Envelope {
    pub version: Text,
    pub id: Text,
    #[serde(rename = "detail-type")]
    pub detail_type: Text,
    pub source: Text,
    /// A string in the EventBridge schema; some producers write a number.
    pub account: Text,
    pub time: Text,
    pub region: Text,
    pub resources: Value,
}

/// One CloudTrail record: the `detail` of an "AWS API Call via CloudTrail" or "AWS Console
/// Sign In via CloudTrail" event, or an element of a CloudTrail log file's `Records`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CloudTrailRecord {
    pub event_version: Text,
    #[serde(deserialize_with = "lenient::struct_or_default")]
    pub user_identity: UserIdentity,
    pub event_time: Text,
    pub event_source: Text,
    pub event_name: Text,
    pub aws_region: Text,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Text,
    pub user_agent: Text,
    pub error_code: Text,
    pub error_message: Text,
    pub request_parameters: Value,
    pub response_elements: Value,
    pub additional_event_data: Value,
    #[serde(rename = "requestID")]
    pub request_id: Text,
    #[serde(rename = "eventID")]
    pub event_id: Text,
    pub event_type: Text,
    pub read_only: Text,
    pub recipient_account_id: Text,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub identity_type: Text,
    pub principal_id: Text,
    pub arn: Text,
    pub account_id: Text,
    pub access_key_id: Text,
    pub user_name: Text,
    pub invoked_by: Text,
    #[serde(deserialize_with = "lenient::struct_or_default")]
    pub session_context: SessionContext,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(deserialize_with = "lenient::struct_or_default")]
    pub session_issuer: SessionIssuer,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(rename = "type")]
    pub issuer_type: Text,
    pub arn: Text,
    pub user_name: Text,
}

/// The record's three documents, the largest parts of most records.
const DOCUMENTS: [&str; 3] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
];

impl CloudTrailRecord {
    /// The record in `v`, as serde reads it (any field may have any shape; what is not an
    /// object gets serde's own answer), faster: serde would rebuild each document key by key
    /// from the `Value`; here serde reads the other fields and each document is cloned as a
    /// whole tree. That rebuilding was most of the typed record's cost, about 5 % of a
    /// backtest's time.
    pub fn read(v: &Value) -> Result<CloudTrailRecord, serde_json::Error> {
        let Value::Object(fields) = v else {
            return CloudTrailRecord::deserialize(v);
        };
        let rest = fields
            .iter()
            .filter(|(k, _)| !DOCUMENTS.contains(&k.as_str()))
            .map(|(k, x)| (k.as_str(), x));
        let mut record = CloudTrailRecord::deserialize(serde::de::value::MapDeserializer::<
            _,
            serde_json::Error,
        >::new(rest))?;
        [
            record.request_parameters,
            record.response_elements,
            record.additional_event_data,
        ] = DOCUMENTS.map(|k| fields.get(k).cloned().unwrap_or(Value::Null));
        Ok(record)
    }
}

impl UserIdentity {
    /// The ARN that names who acted, for display and for exempt-pattern matching: the
    /// identity's own ARN, or for services the service name.
    pub fn display(&self) -> String {
        self.arn
            .0
            .clone()
            .or_else(|| self.invoked_by.0.clone())
            .or_else(|| self.user_name.0.clone())
            .or_else(|| self.principal_id.0.clone())
            .unwrap_or_else(|| {
                format!(
                    "unknown {}",
                    self.identity_type.get().unwrap_or("principal")
                )
            })
    }

    /// Every ARN the principal can be recognised by: its own, and for an assumed role the
    /// role (session issuer) ARN too, so policies can name roles rather than sessions.
    pub fn arns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(a) = self.arn.get() {
            out.push(a);
        }
        if let Some(a) = self.session_context.session_issuer.arn.get() {
            out.push(a);
        }
        out
    }

    pub fn is_type(&self, t: &str) -> bool {
        self.identity_type
            .get()
            .is_some_and(|x| x.eq_ignore_ascii_case(t))
    }
}

/// The `detail` of an AWS Health event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HealthDetail {
    pub event_arn: Text,
    pub service: Text,
    pub event_type_code: Text,
    pub event_type_category: Text,
    pub start_time: Text,
    /// Present in events from the organizational view: the member account affected.
    pub affected_account: Text,
    #[serde(deserialize_with = "lenient::list_of")]
    pub affected_entities: Vec<AffectedEntity>,
    #[serde(deserialize_with = "lenient::list_of")]
    pub event_description: Vec<EventDescription>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AffectedEntity {
    pub entity_value: Text,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventDescription {
    pub language: Text,
    pub latest_description: Text,
}

/// The `detail` of a "GuardDuty Finding" event, as far as trailguard reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GuardDutyFinding {
    pub id: Text,
    #[serde(rename = "type")]
    pub finding_type: Text,
    #[serde(deserialize_with = "lenient::opt_float")]
    pub severity: Option<f64>,
    pub title: Text,
    pub account_id: Text,
    pub region: Text,
    #[serde(deserialize_with = "lenient::or_default")]
    pub resource: GuardDutyResource,
    pub service: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GuardDutyResource {
    pub resource_type: Text,
    #[serde(deserialize_with = "lenient::or_default")]
    pub access_key_details: Option<AccessKeyDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AccessKeyDetails {
    pub access_key_id: Text,
    pub principal_id: Text,
    pub user_name: Text,
    pub user_type: Text,
}

impl GuardDutyFinding {
    /// The caller's IP address, wherever the finding's action type keeps it.
    pub fn remote_ip(&self) -> Option<String> {
        let action = self.service.get("action")?;
        [
            "awsApiCallAction",
            "networkConnectionAction",
            "portProbeAction",
            "kubernetesApiCallAction",
        ]
        .iter()
        .filter_map(|k| action.get(*k))
        .find_map(|a| {
            a.get("remoteIpDetails")
                .and_then(|r| lenient::str_any(r, &["ipAddressV4", "ipAddressV6"]))
        })
    }
}

/// The `detail` of a "Security Hub Findings - Imported" event: findings in the AWS Security
/// Finding Format (ASFF, PascalCase), as far as trailguard reads them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityHubDetail {
    #[serde(deserialize_with = "lenient::list_of")]
    pub findings: Vec<AsffFinding>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AsffFinding {
    pub id: Text,
    pub product_arn: Text,
    pub product_name: Text,
    pub generator_id: Text,
    pub aws_account_id: Text,
    pub region: Text,
    #[serde(deserialize_with = "lenient::list_of")]
    pub types: Vec<Text>,
    pub title: Text,
    pub description: Text,
    pub severity: Value,
    pub finding_provider_fields: Value,
    pub product_fields: Value,
    #[serde(deserialize_with = "lenient::list_of")]
    pub resources: Vec<AsffResource>,
    pub compliance: Value,
    pub workflow: Value,
    pub workflow_state: Text,
    pub record_state: Text,
    /// Set on findings GuardDuty and Security Hub generate as samples.
    pub sample: Value,
    /// GuardDuty Extended Threat Detection: `{"Sequence": {"Actors": [...], ...}}`.
    pub detection: Value,
    /// When the product last updated the finding (BatchUpdateFindings leaves it as it is).
    pub updated_at: Text,
    /// `{"Text", "UpdatedBy", "UpdatedAt"}`: the last BatchUpdateFindings note (trailguard's
    /// own, once it has acted).
    pub note: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AsffResource {
    #[serde(rename = "Type")]
    pub resource_type: Text,
    pub id: Text,
    pub region: Text,
    pub details: Value,
}

impl AsffFinding {
    /// The product that produced the finding: `GuardDuty`, `Security Hub`, ...
    pub fn product(&self) -> String {
        self.product_name
            .0
            .clone()
            .or_else(|| lenient::str_at(&self.product_fields, "aws/securityhub/ProductName"))
            .or_else(|| {
                self.product_arn
                    .get()
                    .and_then(|a| a.rsplit('/').next())
                    .map(String::from)
            })
            .unwrap_or_default()
    }

    /// GuardDuty's own finding: its product ARN is AWS's GuardDuty product (a name can be
    /// written by anyone who imports findings; the product ARN of an import is the caller's).
    pub fn is_guardduty(&self) -> bool {
        self.is_aws_product("guardduty")
    }

    /// Whether AWS's own product `name` produced the finding (`...:product/aws/<name>`).
    pub fn is_aws_product(&self, name: &str) -> bool {
        self.product_arn
            .get()
            .is_some_and(|a| a.ends_with(&format!(":product/aws/{name}")))
    }

    /// The Security Hub control the finding is about (`EC2.19`), in the consolidated form
    /// (`Compliance.SecurityControlId`) or the per-standard form (`ProductFields.ControlId`).
    pub fn control_id(&self) -> Option<String> {
        lenient::str_at(&self.compliance, "SecurityControlId")
            .or_else(|| lenient::str_at(&self.product_fields, "ControlId"))
            .or_else(|| {
                self.generator_id
                    .get()
                    .and_then(|g| g.rsplit('/').next())
                    .filter(|c| c.contains('.'))
                    .map(String::from)
            })
    }

    pub fn compliance_status(&self) -> Option<String> {
        lenient::str_at(&self.compliance, "Status")
    }

    pub fn workflow_status(&self) -> Option<String> {
        lenient::str_at(&self.workflow, "Status").or_else(|| self.workflow_state.0.clone())
    }

    /// Why the finding is no longer live (archived, suppressed, resolved), if it is not.
    pub fn closed(&self) -> Option<String> {
        if self
            .record_state
            .get()
            .is_some_and(|s| s.eq_ignore_ascii_case("ARCHIVED"))
        {
            return Some("its RecordState is ARCHIVED".into());
        }
        match self.workflow_status() {
            Some(w) if ["SUPPRESSED", "RESOLVED"].contains(&w.to_ascii_uppercase().as_str()) => {
                Some(format!("its Workflow.Status is {w}"))
            }
            _ => None,
        }
    }

    /// The finding's numeric severity on GuardDuty's 0-10 scale: the product's own
    /// (`FindingProviderFields.Severity.Original`, `Severity.Original`, `Severity.Product`),
    /// or else the label's lower bound.
    pub fn guardduty_severity(&self) -> Option<f64> {
        [
            &self.finding_provider_fields["Severity"]["Original"],
            &self.severity["Original"],
            &self.severity["Product"],
        ]
        .into_iter()
        .find_map(lenient::float)
        .or_else(|| {
            let label = lenient::str_at(&self.severity, "Label")?;
            Some(match label.to_ascii_uppercase().as_str() {
                "CRITICAL" => 9.0,
                "HIGH" => 7.0,
                "MEDIUM" => 4.0,
                "LOW" => 1.0,
                _ => 0.0,
            })
        })
    }

    /// The GuardDuty finding type: the `FindingProviderFields.Types` (else `Types`) entry that
    /// carries it (ASFF writes
    /// `UnauthorizedAccess:IAMUser/TorIPCaller` as `.../UnauthorizedAccess:IAMUser-TorIPCaller`).
    pub fn guardduty_type(&self) -> Option<String> {
        // The provider's own types first: `Types` can be rewritten by anyone allowed to call
        // BatchUpdateFindings, `FindingProviderFields.Types` only by GuardDuty.
        let provider: Vec<String> = lenient::items(&self.finding_provider_fields["Types"])
            .into_iter()
            .filter_map(lenient::scalar_string)
            .collect();
        let types: Vec<String> = if provider.is_empty() {
            self.types
                .iter()
                .filter_map(Text::get)
                .map(String::from)
                .collect()
        } else {
            provider
        };
        types.iter().find_map(|t| {
            let last = t.rsplit('/').next()?;
            let (prefix, rest) = last.split_once(':')?;
            Some(match rest.split_once('-') {
                Some((resource, name)) => format!("{prefix}:{resource}/{name}"),
                None => last.to_string(),
            })
        })
    }

    /// A GuardDuty finding carried in ASFF, in the native finding's terms, so both forms
    /// get the same decisions.
    pub fn as_guardduty(&self) -> GuardDutyFinding {
        let key = self.resources.iter().find(|r| {
            r.resource_type
                .get()
                .is_some_and(|t| t.eq_ignore_ascii_case("AwsIamAccessKey"))
        });
        let details = key
            .map(|r| {
                r.details
                    .get("AwsIamAccessKey")
                    .cloned()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let key_id = lenient::str_at(&details, "AccessKeyId").or_else(|| {
            key.and_then(|r| r.id.get())
                .and_then(|id| id.rsplit(':').next())
                .map(String::from)
        });
        let pf = &self.product_fields;
        let flag = |k: &str| lenient::str_at(pf, k).unwrap_or_default();
        let ip = lenient::str_any(
            pf,
            &[
                "aws/guardduty/service/action/awsApiCallAction/remoteIpDetails/ipAddressV4",
                "aws/guardduty/service/action/awsApiCallAction/remoteIpDetails/ipAddressV6",
            ],
        );
        GuardDutyFinding {
            id: self.id.clone(),
            finding_type: Text(self.guardduty_type()),
            severity: self.guardduty_severity(),
            title: self.title.clone(),
            account_id: self.aws_account_id.clone(),
            region: self.region.clone(),
            resource: GuardDutyResource {
                resource_type: Text::new(if key.is_some() { "AccessKey" } else { "Other" }),
                access_key_details: key.map(|_| AccessKeyDetails {
                    access_key_id: Text(key_id),
                    principal_id: Text(lenient::str_at(&details, "PrincipalId")),
                    user_name: Text(lenient::str_any(&details, &["PrincipalName", "UserName"])),
                    user_type: Text(lenient::str_at(&details, "PrincipalType")),
                }),
            },
            service: serde_json::json!({
                "detection": {"sequence": {"actors": asff_actors(&self.detection)}},
                "archived": flag("aws/guardduty/service/archived") == "true",
                "additionalInfo": {"sample": flag("aws/guardduty/service/additionalInfo/sample") == "true"
                    || lenient::boolean(&self.sample) == Some(true)},
                "action": {"awsApiCallAction": {"remoteIpDetails": {"ipAddressV4": ip}}},
            }),
        }
    }
}

/// An ASFF attack sequence's actors (`Detection.Sequence.Actors`) in the native finding's
/// terms (`service.detection.sequence.actors`: camelCase keys).
fn asff_actors(detection: &Value) -> Value {
    let actors = lenient::items(&detection["Sequence"]["Actors"]);
    Value::Array(
        actors
            .into_iter()
            .map(|a| {
                let u = &a["User"];
                serde_json::json!({
                    "id": a["Id"],
                    "user": {
                        "name": u["Name"],
                        "uid": u["Uid"],
                        "type": u["Type"],
                        "credentialUid": u["CredentialUid"],
                        "account": {"uid": u["Account"]["Uid"]},
                    },
                })
            })
            .collect(),
    )
}

/// A responder's manual trigger: `source: "trailguard"`, e.g. detail-type "Disable Access
/// Key", so `aws events put-events` gets the same containment as an automatic finding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManualRequest {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// An "Approve Plan" request's plan (approval.rs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// And the digest of the plan the approver was shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
}

/// What an event is about, after parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    CloudTrail(Box<CloudTrailRecord>),
    Health(HealthDetail),
    GuardDuty(Box<GuardDutyFinding>),
    SecurityHub(Box<SecurityHubDetail>),
    Manual(ManualRequest),
    /// An event from a source trailguard does not act on; kept so it can be ignored with a
    /// reason rather than failing.
    Other,
}

/// A parsed event: its envelope (synthesised for raw CloudTrail records), its body, and the
/// event as EventBridge delivers it (what rule patterns are matched against).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub envelope: Envelope,
    pub body: EventBody,
    pub raw: Value,
}

pub const DETAIL_TYPE_API_CALL: &str = "AWS API Call via CloudTrail";
pub const DETAIL_TYPE_CONSOLE_SIGN_IN: &str = "AWS Console Sign In via CloudTrail";

impl Event {
    /// Parse an EventBridge envelope, or a bare CloudTrail record (as found in a CloudTrail
    /// log file's `Records`).
    pub fn parse(v: &Value) -> Result<Event, ParseError> {
        Event::from_value(v.clone())
    }

    /// [`Event::parse`], taking the document.
    pub fn from_value(v: Value) -> Result<Event, ParseError> {
        let Value::Object(obj) = &v else {
            return Err(ParseError::NotAnObject { found: kind(&v) });
        };
        if obj.contains_key("source") || obj.contains_key("detail-type") {
            let envelope = Envelope::deserialize(&v).map_err(|e| ParseError::Invalid {
                field: "envelope",
                problem: e.to_string(),
            })?;
            let body = Event::body(&envelope, v.get("detail").unwrap_or(&Value::Null))?;
            Ok(Event {
                envelope,
                body,
                raw: v,
            })
        } else if obj.contains_key("eventName") || obj.contains_key("eventSource") {
            let record = CloudTrailRecord::read(&v).map_err(|e| ParseError::Invalid {
                field: "record",
                problem: e.to_string(),
            })?;
            Ok(Event::from_record(record, v))
        } else {
            Err(ParseError::UnknownShape)
        }
    }

    /// Wrap a bare CloudTrail record (parsed, and as read) in the envelope EventBridge would
    /// have given it.
    pub fn from_record(record: CloudTrailRecord, raw_record: Value) -> Event {
        let service = record
            .event_source
            .get()
            .and_then(|s| s.strip_suffix(".amazonaws.com"))
            .map(|s| format!("aws.{s}"));
        let detail_type = if record.event_type.get() == Some("AwsConsoleSignIn") {
            DETAIL_TYPE_CONSOLE_SIGN_IN
        } else {
            DETAIL_TYPE_API_CALL
        };
        let envelope = Envelope {
            version: Text::new("0"),
            id: record.event_id.clone(),
            detail_type: Text::new(detail_type),
            source: Text(service),
            account: Text(
                record
                    .recipient_account_id
                    .0
                    .clone()
                    .or_else(|| record.user_identity.account_id.0.clone()),
            ),
            time: record.event_time.clone(),
            region: record.aws_region.clone(),
            resources: Value::Array(vec![]),
        };
        // The record is moved in, not copied (`json!` would serialise it into a new value:
        // the largest part of a backtest's time per decided record).
        let text = |t: &Text| t.0.clone().map_or(Value::Null, Value::String);
        let mut raw = serde_json::Map::new();
        raw.insert("version".into(), text(&envelope.version));
        raw.insert("id".into(), text(&envelope.id));
        raw.insert("detail-type".into(), text(&envelope.detail_type));
        raw.insert("source".into(), text(&envelope.source));
        raw.insert("account".into(), text(&envelope.account));
        raw.insert("time".into(), text(&envelope.time));
        raw.insert("region".into(), text(&envelope.region));
        raw.insert("resources".into(), Value::Array(vec![]));
        raw.insert("detail".into(), raw_record);
        let raw = Value::Object(raw);
        Event {
            envelope,
            body: EventBody::CloudTrail(Box::new(record)),
            raw,
        }
    }

    fn body(envelope: &Envelope, detail: &Value) -> Result<EventBody, ParseError> {
        let source = envelope
            .source
            .get()
            .ok_or(ParseError::Missing { field: "source" })?;
        let detail_type = envelope.detail_type.get().unwrap_or_default();
        let object = |what: &str| -> Result<(), ParseError> {
            if detail.is_object() {
                Ok(())
            } else {
                Err(ParseError::Invalid {
                    field: "detail",
                    problem: format!("expected {what} object, found {}", kind(detail)),
                })
            }
        };
        Ok(
            // Only AWS can put events with an `aws.*` source; the detail-type is free text, so
            // a record under any other source is a forgery (see [`Event::forged`]).
            if (detail_type == DETAIL_TYPE_API_CALL || detail_type == DETAIL_TYPE_CONSOLE_SIGN_IN)
                && is_aws_source(source)
            {
                object("a CloudTrail record")?;
                let record = CloudTrailRecord::read(detail).map_err(|e| ParseError::Invalid {
                    field: "detail",
                    problem: e.to_string(),
                })?;
                if record.event_name.is_absent() {
                    return Err(ParseError::Missing {
                        field: "detail.eventName",
                    });
                }
                EventBody::CloudTrail(Box::new(record))
            } else if source == "aws.health" {
                object("an AWS Health event")?;
                EventBody::Health(HealthDetail::deserialize(detail).unwrap_or_default())
            } else if source == "aws.guardduty" && detail_type == "GuardDuty Finding" {
                object("a GuardDuty finding")?;
                EventBody::GuardDuty(Box::new(
                    GuardDutyFinding::deserialize(detail).unwrap_or_default(),
                ))
            } else if source == "aws.securityhub"
                && detail_type.starts_with("Security Hub Findings")
            {
                object("a Security Hub findings")?;
                EventBody::SecurityHub(Box::new(
                    SecurityHubDetail::deserialize(detail).unwrap_or_default(),
                ))
            } else if source == "trailguard" {
                EventBody::Manual(parse_manual(detail_type, detail)?)
            } else {
                EventBody::Other
            },
        )
    }

    pub fn id(&self) -> Option<&str> {
        self.envelope.id.get()
    }

    /// The id an event's ledger items are kept under (its claims, its reports, its plan):
    /// EventBridge's, or CloudTrail's when the envelope has none.
    pub fn key_id(&self) -> Option<&str> {
        self.id()
            .filter(|i| !i.is_empty() && *i != "unknown")
            .or_else(|| self.cloudtrail().and_then(|r| r.event_id.get()))
    }

    /// Why the event cannot be AWS's although it is dressed as AWS's, if it is: a
    /// detail-type AWS writes (CloudTrail, Health, GuardDuty, Security Hub) under a source
    /// that is not `aws.*`. EventBridge reserves only `aws.*` sources; anyone allowed to put
    /// events on a bus can write any detail-type.
    pub fn forged(&self) -> Option<String> {
        let source = self.source().unwrap_or_default();
        let detail_type = self.detail_type()?;
        let aws_shaped = detail_type == DETAIL_TYPE_API_CALL
            || detail_type == DETAIL_TYPE_CONSOLE_SIGN_IN
            || detail_type == "AWS Health Event"
            || detail_type == "GuardDuty Finding"
            || detail_type.starts_with("Security Hub Findings");
        (aws_shaped && !is_aws_source(source)).then(|| {
            format!(
                "forged: detail-type `{detail_type}` under source `{source}`, which is not AWS's \
                 (only aws.* sources are reserved to AWS; anyone allowed to put events can write a \
                 detail-type): refused"
            )
        })
    }

    pub fn source(&self) -> Option<&str> {
        self.envelope.source.get()
    }

    pub fn detail_type(&self) -> Option<&str> {
        self.envelope.detail_type.get()
    }

    /// EventBridge's event for a schedule rule: it starts a sweep.
    pub fn is_scheduled(&self) -> bool {
        self.source() == Some("aws.events") && self.detail_type() == Some("Scheduled Event")
    }

    pub fn cloudtrail(&self) -> Option<&CloudTrailRecord> {
        match &self.body {
            EventBody::CloudTrail(r) => Some(r),
            _ => None,
        }
    }

    /// The account the event happened in: the envelope's, or for organization-wide Health
    /// events the affected member account, or for Security Hub findings aggregated in an
    /// administrator account the finding's account.
    pub fn account(&self) -> Option<&str> {
        match &self.body {
            EventBody::Health(h) if h.affected_account.is_some() => h.affected_account.get(),
            EventBody::SecurityHub(d) if d.findings.iter().any(|f| f.aws_account_id.is_some()) => {
                d.findings.iter().find_map(|f| f.aws_account_id.get())
            }
            EventBody::CloudTrail(r) if self.envelope.account.is_none() => {
                r.recipient_account_id.get()
            }
            // A GuardDuty administrator account receives its members' findings: the finding's
            // account is where the key or instance is.
            EventBody::GuardDuty(f) if f.account_id.is_some() => f.account_id.get(),
            _ => self.envelope.account.get(),
        }
    }

    /// The region the event happened in: the envelope's, or for Security Hub findings
    /// aggregated from other regions the finding's.
    pub fn region(&self) -> Option<&str> {
        if let EventBody::SecurityHub(d) = &self.body {
            if let Some(r) = d.findings.iter().find_map(|f| f.region.get()) {
                return Some(r);
            }
        }
        self.envelope
            .region
            .get()
            .or_else(|| self.cloudtrail().and_then(|r| r.aws_region.get()))
    }

    /// Checks the account and region the event is about, before anything is done there: a
    /// central deployment assumes a role in that account and builds clients for that region,
    /// so a value that cannot be one is an error naming the field, never a call.
    pub fn check_target(&self) -> Result<(), ParseError> {
        if let Some(a) = self.account() {
            if !crate::ids::is_account_id(a) {
                return Err(ParseError::Invalid {
                    field: "account",
                    problem: format!("`{a}` is not an AWS account id (12 digits)"),
                });
            }
        }
        if let Some(r) = self.region() {
            if !is_region_name(r) {
                return Err(ParseError::Invalid {
                    field: "region",
                    problem: format!("`{r}` is not an AWS region name (like eu-west-1)"),
                });
            }
        }
        Ok(())
    }

    /// A short name for the kind of event: the CloudTrail event name, the Health event type
    /// code, the GuardDuty finding type, or the detail-type.
    pub fn name(&self) -> String {
        match &self.body {
            EventBody::CloudTrail(r) => r.event_name.0.clone().unwrap_or_default(),
            EventBody::Health(h) => h.event_type_code.0.clone().unwrap_or_default(),
            EventBody::GuardDuty(f) => f.finding_type.0.clone().unwrap_or_default(),
            EventBody::SecurityHub(d) => d
                .findings
                .first()
                .and_then(|f| {
                    f.control_id()
                        .or_else(|| f.guardduty_type())
                        .or_else(|| f.title.0.clone())
                })
                .unwrap_or_default(),
            _ => self.envelope.detail_type.0.clone().unwrap_or_default(),
        }
    }
}

fn parse_manual(detail_type: &str, detail: &Value) -> Result<ManualRequest, ParseError> {
    if !detail.is_object() {
        return Err(ParseError::Invalid {
            field: "detail",
            problem: format!("expected an object, found {}", kind(detail)),
        });
    }
    Ok(ManualRequest {
        action: detail_type.to_string(),
        access_key_id: lenient::str_any(detail, &["accessKeyId", "access_key_id", "AccessKeyId"]),
        user_name: lenient::str_any(detail, &["userName", "user_name", "UserName"]),
        reason: lenient::str_any(detail, &["reason", "Reason"]),
        requested_by: lenient::str_any(detail, &["requestedBy", "requested_by"]),
        plan_id: lenient::str_any(detail, &["planId", "plan_id"]),
        plan_digest: lenient::str_any(detail, &["planDigest", "plan_digest"]),
    })
}

/// Whether a source is AWS's own: EventBridge refuses `aws.*` sources from PutEvents.
pub fn is_aws_source(source: &str) -> bool {
    source.starts_with("aws.") && source.len() > 4
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `s` has the shape of an AWS region name: a two-letter area, one or more words,
/// a number (`eu-west-1`, `us-gov-west-1`, `ap-southeast-5`).
pub fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| n > 0 && !parts[parts.len() - 1].starts_with('0'))
}
