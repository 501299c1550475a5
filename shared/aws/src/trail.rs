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
        global_service_events: Option<bool>,
    ) -> PortResult<Change> {
        self.update_trail()
            .name(trail)
            .set_is_multi_region_trail(multi_region)
            .set_enable_log_file_validation(log_file_validation)
            .set_include_global_service_events(global_service_events)
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
        lookup(
            self,
            LookupAttributeKey::AccessKeyId,
            key_id,
            start,
            end,
            max_pages,
        )
        .await
    }

    async fn lookup_resource_events(
        &self,
        resource: &str,
        start: i64,
        end: i64,
        max_pages: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        lookup(
            self,
            LookupAttributeKey::ResourceName,
            resource,
            start,
            end,
            max_pages,
        )
        .await
    }

    async fn lookup_named_events(
        &self,
        event_name: &str,
        start: i64,
        end: i64,
        max_pages: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        lookup(
            self,
            LookupAttributeKey::EventName,
            event_name,
            start,
            end,
            max_pages,
        )
        .await
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
            match restored_advanced(advanced)? {
                None => {
                    return Ok(Change::AlreadyDone(format!(
                        "trail {trail} records management events, writes included"
                    )))
                }
                Some(all) => req.set_advanced_event_selectors(Some(all)),
            }
        } else {
            match restored_basic(current.event_selectors()) {
                None => {
                    return Ok(Change::AlreadyDone(format!(
                        "trail {trail} records management events, writes included"
                    )))
                }
                Some(all) => req.set_event_selectors(Some(all)),
            }
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

/// Whether a basic selector records management writes (`ReadWriteType` `All`, `WriteOnly`,
/// or unset, which CloudTrail reads as `All`).
fn records_management_writes(s: &EventSelector) -> bool {
    s.include_management_events() == Some(true)
        && !matches!(s.read_write_type(), Some(ReadWriteType::ReadOnly))
}

/// Basic selectors that record management events, reads and writes (`None`: they already
/// record writes). The selector that records management reads only, else the first one,
/// records management events again with `ReadWriteType` `All`; its data resources and every
/// other selector stay as they are. With no selector at all, one is added.
fn restored_basic(current: &[EventSelector]) -> Option<Vec<EventSelector>> {
    if current.iter().any(records_management_writes) {
        return None;
    }
    let mut all = current.to_vec();
    let at = all
        .iter()
        .position(|s| s.include_management_events() == Some(true))
        .unwrap_or(0);
    match all.get_mut(at) {
        Some(s) => {
            *s = EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .set_data_resources(Some(s.data_resources().to_vec()))
                .set_exclude_management_event_sources(Some(
                    s.exclude_management_event_sources().to_vec(),
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
    Some(all)
}

fn is_management(s: &AdvancedEventSelector) -> bool {
    s.field_selectors()
        .iter()
        .any(|f| f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management"))
}

fn is_read_only_limit(f: &AdvancedFieldSelector) -> bool {
    f.field() == "readOnly"
}

/// Advanced selectors that record management events, reads and writes (`None`: one already
/// does). Management selectors limited by `readOnly` lose that limit (their other fields
/// stay); without any, a management selector is added. Data selectors are kept as they are.
fn restored_advanced(
    current: &[AdvancedEventSelector],
) -> PortResult<Option<Vec<AdvancedEventSelector>>> {
    let management: Vec<&AdvancedEventSelector> =
        current.iter().filter(|s| is_management(s)).collect();
    if management
        .iter()
        .any(|s| !s.field_selectors().iter().any(is_read_only_limit))
    {
        return Ok(None);
    }
    let mut all = Vec::with_capacity(current.len() + 1);
    for s in current {
        if is_management(s) {
            let fields: Vec<AdvancedFieldSelector> = s
                .field_selectors()
                .iter()
                .filter(|f| !is_read_only_limit(f))
                .cloned()
                .collect();
            all.push(
                AdvancedEventSelector::builder()
                    .set_name(s.name().map(String::from))
                    .set_field_selectors(Some(fields))
                    .build()
                    .map_err(|e| build_error("PutEventSelectors", e))?,
            );
        } else {
            all.push(s.clone());
        }
    }
    if management.is_empty() {
        all.push(
            AdvancedEventSelector::builder()
                .name("Management events (restored by trailguard)")
                .field_selectors(
                    AdvancedFieldSelector::builder()
                        .field("eventCategory")
                        .equals("Management")
                        .build()
                        .map_err(|e| build_error("PutEventSelectors", e))?,
                )
                .build()
                .map_err(|e| build_error("PutEventSelectors", e))?,
        );
    }
    Ok(Some(all))
}

/// `LookupEvents` by one attribute between two epoch seconds (newest first), at most
/// `max_pages` pages of 50.
async fn lookup(
    c: &Client,
    key: LookupAttributeKey,
    value: &str,
    start: i64,
    end: i64,
    max_pages: usize,
) -> PortResult<Vec<TrailEvent>> {
    let attr = LookupAttribute::builder()
        .attribute_key(key)
        .attribute_value(value)
        .build()
        .map_err(|e| PortError::Permanent {
            op: "LookupEvents",
            code: "BuildError".into(),
            message: e.to_string(),
        })?;
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..max_pages {
        let page = c
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
            let text = |k: &str| detail.get(k).and_then(|v| v.as_str()).map(String::from);
            out.push(TrailEvent {
                name: ev.event_name().unwrap_or("?").to_string(),
                time: ev.event_time().map(|t| t.secs()),
                source_ip: text("sourceIPAddress"),
                region: text("awsRegion"),
                source: text("eventSource"),
                error_code: text("errorCode"),
                request_parameters: detail.get("requestParameters").cloned().unwrap_or_default(),
                resources: ev
                    .resources()
                    .iter()
                    .filter_map(|r| r.resource_name().map(String::from))
                    .chain(
                        detail["resources"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|r| r["ARN"].as_str().map(String::from)),
                    )
                    .collect(),
                principals: [
                    &detail["userIdentity"]["arn"],
                    &detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
                ]
                .into_iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            });
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}
