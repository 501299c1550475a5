//! The GuardDuty port on the SDK client: a suspended detector switched back on, read first.

use aws_sdk_guardduty::types::DetectorStatus;
use aws_sdk_guardduty::Client;
use trailguard_rules::ops;

use crate::error::{classify, code_of};
use crate::ports::{Change, GuardDutyPort, PortResult};

impl GuardDutyPort for Client {
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
