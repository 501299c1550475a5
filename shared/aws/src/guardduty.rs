//! The GuardDuty port on the SDK client: a suspended detector switched back on, read first.

use aws_sdk_guardduty::types::DetectorStatus;
use aws_sdk_guardduty::Client;
use trailguard_rules::ops;

use crate::error::{classify, code_of};
use crate::ports::{Change, GuardDutyPort, PortResult};

impl GuardDutyPort for Client {
    async fn detectors(&self) -> PortResult<Vec<(String, String)>> {
        // A region has at most one detector per account: one page holds them.
        let ids = self
            .list_detectors()
            .send()
            .await
            .map_err(|e| classify(&ops::GUARDDUTY_LIST_DETECTORS, e))?;
        let mut out = Vec::new();
        for id in ids.detector_ids() {
            match self.get_detector().detector_id(id).send().await {
                Ok(d) => out.push((
                    id.clone(),
                    d.status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )),
                // Deleted between the two calls.
                Err(e) if code_of(&e).as_deref() == Some("BadRequestException") => {}
                Err(e) => return Err(classify(&ops::GUARDDUTY_GET_DETECTOR, e)),
            }
        }
        Ok(out)
    }

    async fn enable_detector(&self, detector_id: &str) -> PortResult<Change> {
        match self.get_detector().detector_id(detector_id).send().await {
            Ok(d) if d.status() == Some(&DetectorStatus::Enabled) => {
                return Ok(Change::AlreadyDone(format!(
                    "GuardDuty detector {detector_id} is enabled"
                )))
            }
            Ok(_) => {}
            // A deleted detector cannot be switched on: guard-detection tells its deletion.
            Err(e) if code_of(&e).as_deref() == Some("BadRequestException") => {
                return Ok(Change::AlreadyDone(format!(
                    "GuardDuty detector {detector_id} does not exist (any more)"
                )))
            }
            Err(e) => return Err(classify(&ops::GUARDDUTY_GET_DETECTOR, e)),
        }
        self.update_detector()
            .detector_id(detector_id)
            .enable(true)
            .send()
            .await
            .map_err(|e| classify(&ops::GUARDDUTY_UPDATE_DETECTOR, e))?;
        Ok(Change::Done)
    }
}
