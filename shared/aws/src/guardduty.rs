//! The GuardDuty port on the SDK client: a suspended detector switched back on, read first;
//! a finding archived once its credentials are contained.

use aws_sdk_guardduty::types::DetectorStatus;
use aws_sdk_guardduty::Client;
use trailguard_rules::finding::FindingOutcome;
use trailguard_rules::ops;

use crate::error::{classify, code_of, PortError};
use crate::ports::{Change, GuardDutyPort, PortResult};

/// The region's detector ids (at most one per account: one page holds them).
async fn detector_ids(client: &Client) -> PortResult<Vec<String>> {
    client
        .list_detectors()
        .send()
        .await
        .map(|out| out.detector_ids().to_vec())
        .map_err(|e| classify(&ops::GUARDDUTY_LIST_DETECTORS, e))
}

impl GuardDutyPort for Client {
    async fn detectors(&self) -> PortResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        for id in detector_ids(self).await? {
            match self.get_detector().detector_id(&id).send().await {
                Ok(d) => out.push((
                    id,
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

    async fn archive_finding(&self, finding_id: &str) -> PortResult<FindingOutcome> {
        let ids = detector_ids(self).await?;
        let Some(detector) = ids.first() else {
            return Err(PortError::Permanent {
                op: ops::GUARDDUTY_ARCHIVE_FINDINGS.api,
                code: "NoDetector".into(),
                message: "GuardDuty has no detector in this account and region".into(),
            });
        };
        self.archive_findings()
            .detector_id(detector)
            .finding_ids(finding_id)
            .send()
            .await
            .map_err(|e| classify(&ops::GUARDDUTY_ARCHIVE_FINDINGS, e))?;
        Ok(FindingOutcome::Updated)
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
