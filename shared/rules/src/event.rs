//! The event model: what EventBridge delivers to trailguard, parsed leniently.
//!
//! `aws_lambda_events`' CloudTrail type lacks `errorCode` and `userIdentity.accessKeyId`
//! and rejects records without `creationDate`, so trailguard has its own types. Every field
//! is optional and every reader accepts the odd shapes real records have; what is missing
//! is decided on later, strictly, by the guards.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::lenient;

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

/// The EventBridge envelope, as EventBridge delivers it to a Lambda function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Envelope {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        rename = "detail-type",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail_type: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<String>,
    /// A string in the EventBridge schema; some producers write a number.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub account: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    #[serde(deserialize_with = "lenient::any_value")]
    pub resources: Value,
    #[serde(deserialize_with = "lenient::any_value")]
    pub detail: Value,
}

/// One CloudTrail record: the `detail` of an "AWS API Call via CloudTrail" or "AWS Console
/// Sign In via CloudTrail" event, or an element of a CloudTrail log file's `Records`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CloudTrailRecord {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_version: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub user_identity: UserIdentity,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_time: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_source: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_name: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub aws_region: Option<String>,
    #[serde(
        rename = "sourceIPAddress",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_address: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_agent: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_code: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_message: Option<String>,
    #[serde(deserialize_with = "lenient::any_value")]
    pub request_parameters: Value,
    #[serde(deserialize_with = "lenient::any_value")]
    pub response_elements: Value,
    #[serde(deserialize_with = "lenient::any_value")]
    pub additional_event_data: Value,
    #[serde(
        rename = "requestID",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
    #[serde(
        rename = "eventID",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_id: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_type: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_account_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(
        rename = "type",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub identity_type: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub principal_id: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub arn: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_id: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_name: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub invoked_by: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub session_context: SessionContext,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(deserialize_with = "lenient::or_default")]
    pub session_issuer: SessionIssuer,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(
        rename = "type",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuer_type: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub arn: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_name: Option<String>,
}

impl UserIdentity {
    /// The ARN that names who acted, for display and for exempt-pattern matching: the
    /// identity's own ARN, or for services the service name.
    pub fn display(&self) -> String {
        self.arn
            .clone()
            .or_else(|| self.invoked_by.clone())
            .or_else(|| self.user_name.clone())
            .or_else(|| self.principal_id.clone())
            .unwrap_or_else(|| {
                format!(
                    "unknown {}",
                    self.identity_type.as_deref().unwrap_or("principal")
                )
            })
    }

    /// Every ARN the principal can be recognised by: its own, and for an assumed role the
    /// role (session issuer) ARN too, so policies can name roles rather than sessions.
    pub fn arns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some(a) = self.arn.as_deref() {
            out.push(a);
        }
        if let Some(a) = self.session_context.session_issuer.arn.as_deref() {
            out.push(a);
        }
        out
    }

    pub fn is_type(&self, t: &str) -> bool {
        self.identity_type
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case(t))
    }
}

/// The `detail` of an AWS Health event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HealthDetail {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_arn: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub service: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_type_code: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_type_category: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<String>,
    /// Present in events from the organizational view: the member account affected.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub affected_account: Option<String>,
    #[serde(deserialize_with = "lenient::list_of")]
    pub affected_entities: Vec<AffectedEntity>,
    #[serde(deserialize_with = "lenient::list_of")]
    pub event_description: Vec<EventDescription>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AffectedEntity {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventDescription {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub language: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub latest_description: Option<String>,
}

/// The `detail` of a "GuardDuty Finding" event, as far as trailguard reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GuardDutyFinding {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        rename = "type",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub finding_type: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_float",
        skip_serializing_if = "Option::is_none"
    )]
    pub severity: Option<f64>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_id: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub resource: GuardDutyResource,
    #[serde(deserialize_with = "lenient::any_value")]
    pub service: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GuardDutyResource {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_type: Option<String>,
    #[serde(
        deserialize_with = "lenient::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_details: Option<AccessKeyDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AccessKeyDetails {
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub principal_id: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_name: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_type: Option<String>,
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
}

/// What an event is about, after parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    CloudTrail(Box<CloudTrailRecord>),
    Health(HealthDetail),
    GuardDuty(Box<GuardDutyFinding>),
    Manual(ManualRequest),
    /// An event from a source trailguard does not act on; kept so it can be ignored with a
    /// reason rather than failing.
    Other,
}

/// A parsed event: its envelope (synthesised for raw CloudTrail records) and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub envelope: Envelope,
    pub body: EventBody,
}

pub const DETAIL_TYPE_API_CALL: &str = "AWS API Call via CloudTrail";
pub const DETAIL_TYPE_CONSOLE_SIGN_IN: &str = "AWS Console Sign In via CloudTrail";

impl Event {
    /// Parse an EventBridge envelope, or a bare CloudTrail record (as found in a CloudTrail
    /// log file's `Records`).
    pub fn parse(v: &Value) -> Result<Event, ParseError> {
        let Value::Object(obj) = v else {
            return Err(ParseError::NotAnObject { found: kind(v) });
        };
        if obj.contains_key("source") || obj.contains_key("detail-type") {
            let envelope: Envelope =
                serde_json::from_value(v.clone()).map_err(|e| ParseError::Invalid {
                    field: "envelope",
                    problem: e.to_string(),
                })?;
            Self::from_envelope(envelope)
        } else if obj.contains_key("eventName") || obj.contains_key("eventSource") {
            let record: CloudTrailRecord =
                serde_json::from_value(v.clone()).map_err(|e| ParseError::Invalid {
                    field: "record",
                    problem: e.to_string(),
                })?;
            Ok(Self::from_record(record))
        } else {
            Err(ParseError::UnknownShape)
        }
    }

    /// Wrap a bare CloudTrail record in the envelope EventBridge would have given it.
    pub fn from_record(record: CloudTrailRecord) -> Event {
        let service = record
            .event_source
            .as_deref()
            .and_then(|s| s.strip_suffix(".amazonaws.com"))
            .map(|s| format!("aws.{s}"));
        let detail_type = if record.event_type.as_deref() == Some("AwsConsoleSignIn") {
            DETAIL_TYPE_CONSOLE_SIGN_IN
        } else {
            DETAIL_TYPE_API_CALL
        };
        let envelope = Envelope {
            version: Some("0".into()),
            id: record.event_id.clone(),
            detail_type: Some(detail_type.into()),
            source: service,
            account: record
                .recipient_account_id
                .clone()
                .or_else(|| record.user_identity.account_id.clone()),
            time: record.event_time.clone(),
            region: record.aws_region.clone(),
            resources: Value::Array(vec![]),
            detail: serde_json::to_value(&record).unwrap_or(Value::Null),
        };
        Event {
            envelope,
            body: EventBody::CloudTrail(Box::new(record)),
        }
    }

    pub fn from_envelope(envelope: Envelope) -> Result<Event, ParseError> {
        let source = envelope
            .source
            .clone()
            .ok_or(ParseError::Missing { field: "source" })?;
        let detail_type = envelope.detail_type.clone().unwrap_or_default();
        let detail = &envelope.detail;
        let body =
            if detail_type == DETAIL_TYPE_API_CALL || detail_type == DETAIL_TYPE_CONSOLE_SIGN_IN {
                if !detail.is_object() {
                    return Err(ParseError::Invalid {
                        field: "detail",
                        problem: format!(
                            "expected a CloudTrail record object, found {}",
                            kind(detail)
                        ),
                    });
                }
                let record: CloudTrailRecord =
                    serde_json::from_value(detail.clone()).map_err(|e| ParseError::Invalid {
                        field: "detail",
                        problem: e.to_string(),
                    })?;
                if record.event_name.is_none() {
                    return Err(ParseError::Missing {
                        field: "detail.eventName",
                    });
                }
                EventBody::CloudTrail(Box::new(record))
            } else if source == "aws.health" {
                if !detail.is_object() {
                    return Err(ParseError::Invalid {
                        field: "detail",
                        problem: format!(
                            "expected an AWS Health event object, found {}",
                            kind(detail)
                        ),
                    });
                }
                EventBody::Health(serde_json::from_value(detail.clone()).unwrap_or_default())
            } else if source == "aws.guardduty" && detail_type == "GuardDuty Finding" {
                if !detail.is_object() {
                    return Err(ParseError::Invalid {
                        field: "detail",
                        problem: format!(
                            "expected a GuardDuty finding object, found {}",
                            kind(detail)
                        ),
                    });
                }
                EventBody::GuardDuty(Box::new(
                    serde_json::from_value(detail.clone()).unwrap_or_default(),
                ))
            } else if source == "trailguard" {
                EventBody::Manual(parse_manual(&detail_type, detail)?)
            } else {
                EventBody::Other
            };
        Ok(Event { envelope, body })
    }

    pub fn id(&self) -> Option<&str> {
        self.envelope.id.as_deref()
    }

    pub fn cloudtrail(&self) -> Option<&CloudTrailRecord> {
        match &self.body {
            EventBody::CloudTrail(r) => Some(r),
            _ => None,
        }
    }

    /// The account the event happened in: the envelope's, or for organization-wide Health
    /// events the affected member account.
    pub fn account(&self) -> Option<&str> {
        match &self.body {
            EventBody::Health(h) if h.affected_account.is_some() => h.affected_account.as_deref(),
            EventBody::CloudTrail(r) if self.envelope.account.is_none() => {
                r.recipient_account_id.as_deref()
            }
            _ => self.envelope.account.as_deref(),
        }
    }

    pub fn region(&self) -> Option<&str> {
        self.envelope
            .region
            .as_deref()
            .or_else(|| self.cloudtrail().and_then(|r| r.aws_region.as_deref()))
    }

    /// A short name for the kind of event: the CloudTrail event name, the Health event type
    /// code, the GuardDuty finding type, or the detail-type.
    pub fn name(&self) -> String {
        match &self.body {
            EventBody::CloudTrail(r) => r.event_name.clone().unwrap_or_default(),
            EventBody::Health(h) => h.event_type_code.clone().unwrap_or_default(),
            EventBody::GuardDuty(f) => f.finding_type.clone().unwrap_or_default(),
            _ => self.envelope.detail_type.clone().unwrap_or_default(),
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
    })
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
