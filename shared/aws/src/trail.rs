//! The CloudTrail port on the SDK client.

use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;

use crate::error::{classify, PortError};
use crate::ports::{Change, PortResult, TrailEvent, TrailPort};
use trailguard_rules::ops;

impl TrailPort for Client {
    async fn start_logging(&self, trail: &str) -> PortResult<Change> {
        let status = self
            .get_trail_status()
            .name(trail)
            .send()
            .await
            .map_err(|e| classify(&ops::GET_TRAIL_STATUS, e))?;
        if status.is_logging() == Some(true) {
            return Ok(Change::AlreadyDone(format!(
                "trail {trail} is already logging"
            )));
        }
        self.start_logging()
            .name(trail)
            .send()
            .await
            .map_err(|e| classify(&ops::START_LOGGING, e))?;
        Ok(Change::Done)
    }

    async fn update_trail(
        &self,
        trail: &str,
        multi_region: Option<bool>,
        log_file_validation: Option<bool>,
    ) -> PortResult<Change> {
        self.update_trail()
            .name(trail)
            .set_is_multi_region_trail(multi_region)
            .set_enable_log_file_validation(log_file_validation)
            .send()
            .await
            .map_err(|e| classify(&ops::UPDATE_TRAIL, e))?;
        Ok(Change::Done)
    }

    async fn lookup_key_events(
        &self,
        key_id: &str,
        start: i64,
        end: i64,
        max_pages: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        let attr = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::AccessKeyId)
            .attribute_value(key_id)
            .build()
            .map_err(|e| PortError::Permanent {
                op: "LookupEvents",
                code: "BuildError".into(),
                message: e.to_string(),
            })?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..max_pages {
            let page = self
                .lookup_events()
                .lookup_attributes(attr.clone())
                .start_time(DateTime::from_secs(start))
                .end_time(DateTime::from_secs(end))
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&ops::LOOKUP_EVENTS, e))?;
            for ev in page.events() {
                let detail: serde_json::Value = ev
                    .cloud_trail_event()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                out.push(TrailEvent {
                    name: ev.event_name().unwrap_or("?").to_string(),
                    time: ev.event_time().map(|t| t.secs()),
                    source_ip: detail
                        .get("sourceIPAddress")
                        .and_then(|v| v.as_str())
                        .map(String::from),
                    region: detail
                        .get("awsRegion")
                        .and_then(|v| v.as_str())
                        .map(String::from),
                });
            }
            token = page.next_token().map(String::from);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }
}
