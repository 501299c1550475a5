//! The Security Hub port on the SDK client: the finding an event carried gets the workflow
//! status and note trailguard_rules::finding decided, in the finding's own account and
//! region. Security Hub answers which findings it processed; only that proves the update.

use aws_sdk_securityhub::types::{
    AwsSecurityFindingIdentifier, NoteUpdate, WorkflowStatus, WorkflowUpdate,
};
use aws_sdk_securityhub::Client;
use trailguard_rules::finding::{FindingOutcome, FindingUpdate, Workflow};
use trailguard_rules::ops;

use crate::error::{classify, PortError};
use crate::ports::{PortResult, SecurityHubPort};

impl SecurityHubPort for Client {
    async fn update_finding(&self, update: &FindingUpdate) -> PortResult<FindingOutcome> {
        let op = &ops::SECURITYHUB_BATCH_UPDATE_FINDINGS;
        let status = match update.workflow_status {
            Workflow::Resolved => WorkflowStatus::Resolved,
            Workflow::Notified => WorkflowStatus::Notified,
        };
        let out = self
            .batch_update_findings()
            .finding_identifiers(
                AwsSecurityFindingIdentifier::builder()
                    .id(&update.id)
                    .product_arn(&update.product_arn)
                    .build(),
            )
            .workflow(WorkflowUpdate::builder().status(status).build())
            .note(
                NoteUpdate::builder()
                    .text(&update.note)
                    .updated_by(&update.updated_by)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(op, e))?;
        let ours = |i: Option<&AwsSecurityFindingIdentifier>| {
            i.is_some_and(|i| {
                i.id() == Some(update.id.as_str())
                    && i.product_arn() == Some(update.product_arn.as_str())
            })
        };
        if out.processed_findings().iter().any(|i| ours(Some(i))) {
            return Ok(FindingOutcome::Updated);
        }
        let refused = out
            .unprocessed_findings()
            .iter()
            .find(|u| ours(u.finding_identifier()));
        match refused {
            Some(u) => {
                let code = u.error_code().unwrap_or("Unprocessed").to_string();
                let message = u.error_message().unwrap_or_default().to_string();
                if code.contains("NotFound") {
                    return Ok(FindingOutcome::NotFound);
                }
                // Security Hub's per-finding refusals: a concurrent update or its own
                // failure may pass; anything else (a malformed note, a size limit) will not.
                let err = if code.contains("Concurrent") || code.contains("Internal") {
                    PortError::Transient {
                        op: op.api,
                        code,
                        message,
                    }
                } else {
                    PortError::Permanent {
                        op: op.api,
                        code,
                        message,
                    }
                };
                Err(err)
            }
            // Neither list names it: nothing proves it was written.
            None => Err(PortError::Permanent {
                op: op.api,
                code: "NotProcessed".into(),
                message: format!(
                    "Security Hub did not list finding {} as processed or unprocessed",
                    update.id
                ),
            }),
        }
    }
}
