//! The CloudTrail port on the SDK client.

use aws_sdk_cloudtrail::primitives::DateTime;
use std::collections::BTreeSet;

use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, EventSelector, LookupAttribute,
    LookupAttributeKey, ReadWriteType,
};
use aws_sdk_cloudtrail::Client;

use trailguard_rules::sweep::TrailState;

use crate::error::{classify, PortError};
use crate::ports::{Change, PortResult, TrailEvent, TrailPort};
use trailguard_rules::ops;

impl TrailPort for Client {
    async fn trail_is_logging(&self, trail: &str) -> PortResult<Option<bool>> {
        let status = self
            .get_trail_status()
            .name(trail)
            .send()
            .await
            .map_err(|e| classify(&ops::GET_TRAIL_STATUS, e))?;
        Ok(status.is_logging())
    }

    async fn start_logging(&self, trail: &str) -> PortResult<Change> {
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

    async fn restore_management_events(&self, trail: &str) -> PortResult<Change> {
        let current = self
            .get_event_selectors()
            .trail_name(trail)
            .send()
            .await
            .map_err(|e| classify(&ops::GET_EVENT_SELECTORS, e))?;
        let advanced = current.advanced_event_selectors();
        let req = self.put_event_selectors().trail_name(trail);
        let req = if !advanced.is_empty() {
            let management = |s: &AdvancedEventSelector| {
                s.field_selectors().iter().any(|f| {
                    f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management")
                })
            };
            if advanced.iter().any(management) {
                return Ok(Change::AlreadyDone(format!(
                    "trail {trail} records management events"
                )));
            }
            let selector = AdvancedEventSelector::builder()
                .name("Management events (restored by trailguard)")
                .field_selectors(
                    AdvancedFieldSelector::builder()
                        .field("eventCategory")
                        .equals("Management")
                        .build()
                        .map_err(|e| build_error("PutEventSelectors", e))?,
                )
                .build()
                .map_err(|e| build_error("PutEventSelectors", e))?;
            let mut all = advanced.to_vec();
            all.push(selector);
            req.set_advanced_event_selectors(Some(all))
        } else {
            let basic = current.event_selectors();
            if basic
                .iter()
                .any(|s| s.include_management_events() == Some(true))
            {
                return Ok(Change::AlreadyDone(format!(
                    "trail {trail} records management events"
                )));
            }
            // The data-event selectors stay as they are; the first one records management
            // events again (or a new one does, when there is none).
            let mut all: Vec<EventSelector> = basic.to_vec();
            match all.first_mut() {
                Some(first) => {
                    *first = EventSelector::builder()
                        .set_read_write_type(first.read_write_type().cloned())
                        .include_management_events(true)
                        .set_data_resources(Some(first.data_resources().to_vec()))
                        .set_exclude_management_event_sources(Some(
                            first.exclude_management_event_sources().to_vec(),
                        ))
                        .build()
                }
                None => all.push(
                    EventSelector::builder()
                        .read_write_type(ReadWriteType::All)
                        .include_management_events(true)
                        .build(),
                ),
            }
            req.set_event_selectors(Some(all))
        };
        req.send()
            .await
            .map_err(|e| classify(&ops::PUT_EVENT_SELECTORS, e))?;
        Ok(Change::Done)
    }

    async fn list_trails(&self) -> PortResult<Vec<TrailState>> {
        // Trails of this region and the organization's trails (shadow trails of other
        // regions are swept in their own region).
        let out = self
            .describe_trails()
            .include_shadow_trails(false)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_TRAILS, e))?;
        let mut trails = Vec::new();
        for t in out.trail_list() {
            let Some(arn) = t.trail_arn().or(t.name()) else {
                continue;
            };
            let status = self
                .get_trail_status()
                .name(arn)
                .send()
                .await
                .map_err(|e| classify(&ops::GET_TRAIL_STATUS, e))?;
            trails.push(TrailState {
                trail: t.name().unwrap_or(arn).to_string(),
                is_logging: status.is_logging().unwrap_or(false),
                log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
                tags: Default::default(),
            });
        }
        Ok(trails)
    }

    async fn trail_buckets(&self) -> PortResult<BTreeSet<String>> {
        let out = self
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_TRAILS, e))?;
        Ok(out
            .trail_list()
            .iter()
            .filter_map(|t| t.s3_bucket_name().map(String::from))
            .collect())
    }
}

fn build_error(op: &'static str, e: impl std::fmt::Display) -> PortError {
    PortError::Permanent {
        op,
        code: "BuildError".into(),
        message: e.to_string(),
    }
}
