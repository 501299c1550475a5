//! Notification: an SNS message for people, and optionally a "Remediation Performed" event
//! on EventBridge for automation (chat, ticketing).

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::json;
use trailguard_rules::Report;

use crate::error::{classify, PortError};
use crate::ports::{NotifyPort, PortResult};
use trailguard_rules::ops;

/// SNS subjects are limited to 100 printable ASCII characters.
pub fn subject_line(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    clean.chars().take(100).collect()
}

/// Tell the topic of an undo (`trailguard undo`): subscribers filter on `decision` =
/// `undone` and `event_id` as they do on a function's notices.
pub async fn publish_undo(
    sns: &aws_sdk_sns::Client,
    topic: &str,
    subject: &str,
    message: &str,
    event_id: Option<&str>,
) -> PortResult<()> {
    let mut req = sns
        .publish()
        .topic_arn(topic)
        .subject(subject_line(subject))
        .message(message);
    for (name, value) in [("decision", Some("undone")), ("event_id", event_id)] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            if let Ok(attr) = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
            {
                req = req.message_attributes(name, attr);
            }
        }
    }
    req.send()
        .await
        .map_err(|e| classify(&ops::SNS_PUBLISH, e))?;
    Ok(())
}

pub struct Notifier {
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: Option<String>,
    pub events: aws_sdk_eventbridge::Client,
    pub event_bus: Option<String>,
}

impl Notifier {
    /// SNS, and EventBridge when a bus is configured.
    pub fn new(settings: &crate::Settings, sdk: &aws_config::SdkConfig) -> Notifier {
        Notifier {
            sns: aws_sdk_sns::Client::new(sdk),
            topic_arn: settings.topic_arn.clone(),
            events: aws_sdk_eventbridge::Client::new(sdk),
            event_bus: settings.event_bus.clone(),
        }
    }
}

impl NotifyPort for Notifier {
    async fn publish(&self, subject: &str, message: &str, report: &Report) -> PortResult<()> {
        let Some(topic) = &self.topic_arn else {
            return Ok(());
        };
        let mut req = self
            .sns
            .publish()
            .topic_arn(topic)
            .subject(subject_line(subject))
            .message(message);
        // Subscribers can filter on these without parsing the body.
        let decision = json!(report.decision);
        for (name, value) in [
            ("decision", decision.as_str()),
            ("function", report.function),
            ("event_id", report.event_id.as_deref()),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                let attr = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(v)
                    .build()
                    .map_err(|e| PortError::Permanent {
                        op: "Publish",
                        code: "BuildError".into(),
                        message: e.to_string(),
                    })?;
                req = req.message_attributes(name, attr);
            }
        }
        req.send()
            .await
            .map_err(|e| classify(&ops::SNS_PUBLISH, e))?;
        Ok(())
    }

    async fn put_event(&self, detail_type: &str, report: &Report) -> PortResult<()> {
        let Some(bus) = &self.event_bus else {
            return Ok(());
        };
        let entry = PutEventsRequestEntry::builder()
            .source("trailguard")
            .detail_type(detail_type)
            .detail(report.to_value().to_string())
            .event_bus_name(bus)
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| classify(&ops::PUT_EVENTS, e))?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .find_map(|e| e.error_message().map(String::from))
                .unwrap_or_default();
            return Err(PortError::Transient {
                op: "PutEvents",
                code: "FailedEntry".into(),
                message: why,
            });
        }
        Ok(())
    }
}
