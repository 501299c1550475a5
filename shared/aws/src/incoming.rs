//! What a function is invoked with (`Incoming`, the `aws_lambda_events` envelope or the JSON
//! as it came) and what it returns (`Response`).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use trailguard_rules::{Event, ParseError, Report};

/// What a function is invoked with: an EventBridge event as `aws_lambda_events` types it,
/// or, when it does not fit that type (a bare CloudTrail record, a malformed envelope),
/// the JSON as it came, so it still gets a decision or a clear error instead of a
/// deserialisation failure before the handler runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Incoming {
    EventBridge(EventBridgeEvent<Value>),
    Other(Value),
}

impl From<Value> for Incoming {
    fn from(v: Value) -> Incoming {
        match EventBridgeEvent::<Value>::deserialize(&v) {
            Ok(e) => Incoming::EventBridge(e),
            Err(_) => Incoming::Other(v),
        }
    }
}

/// What an invocation returns: an event's report, or a sweep's.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
// Boxing the event's report too would only move the allocation: it is the common answer.
#[allow(clippy::large_enum_variant)]
pub enum Response {
    Event(Report),
    Sweep(Box<trailguard_rules::sweep::SweepReport>),
}

impl Incoming {
    /// EventBridge's event for a schedule rule.
    pub fn is_scheduled(&self) -> bool {
        match self {
            Incoming::EventBridge(e) => {
                e.source == "aws.events" && e.detail_type == "Scheduled Event"
            }
            Incoming::Other(v) => trailguard_rules::sweep::is_scheduled(v),
        }
    }

    pub(crate) fn id(&self) -> String {
        match self {
            Incoming::EventBridge(e) => e.id.clone(),
            Incoming::Other(v) => v.get("id").and_then(Value::as_str).map(String::from),
        }
        .unwrap_or_else(|| "unknown".into())
    }

    pub(crate) fn into_event(self) -> Result<Event, ParseError> {
        match self {
            Incoming::EventBridge(e) => {
                Event::from_value(serde_json::to_value(e).map_err(|e| ParseError::Invalid {
                    field: "envelope",
                    problem: e.to_string(),
                })?)
            }
            Incoming::Other(v) => Event::from_value(v),
        }
    }
}
