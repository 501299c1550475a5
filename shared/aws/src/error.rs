//! Errors from AWS calls, classified the way Lambda needs them: retryable (Lambda retries,
//! then the on-failure destination keeps the event) or permanent (retrying cannot help, but
//! the event is still kept and people are told).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;
use trailguard_rules::ops::Op;
use trailguard_rules::report::ErrorReport;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PortError {
    /// Throttling, 5xx, timeouts, connection failures: the SDK already retried.
    #[error("{op} failed transiently ({code}): {message}")]
    Transient {
        op: &'static str,
        code: String,
        message: String,
    },
    /// The function's role lacks a permission: names the IAM action to grant.
    #[error(
        "{op} was denied: the function's role needs IAM action {iam_action} ({code}: {message})"
    )]
    AccessDenied {
        op: &'static str,
        iam_action: &'static str,
        code: String,
        message: String,
    },
    /// Anything else the service refused.
    #[error("{op} failed ({code}): {message}")]
    Permanent {
        op: &'static str,
        code: String,
        message: String,
    },
    /// This function was not built with a client for the call (a misrouted action).
    #[error("{op} is not available in this function: it was built without that AWS client")]
    NotWired { op: &'static str },
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Transient { .. })
    }

    pub fn code(&self) -> &str {
        match self {
            PortError::Transient { code, .. }
            | PortError::AccessDenied { code, .. }
            | PortError::Permanent { code, .. } => code,
            PortError::NotWired { .. } => "NotWired",
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            PortError::Transient { .. } => "retryable",
            _ => "permanent",
        }
    }

    pub fn report(&self) -> ErrorReport {
        ErrorReport {
            message: self.to_string(),
            code: self.code().to_string(),
            kind: self.kind(),
        }
    }
}

/// Error codes that mean "try again later": throttling and the service's own failures. The
/// SDK has already retried these; Lambda retrying the whole event may still succeed.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "Unavailable",
];

const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "AuthorizationError",
    "UnrecognizedClientException",
];

/// The error code of a failed call, when the service sent one.
pub fn code_of<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Option<String> {
    match e {
        SdkError::ServiceError(se) => se.err().code().map(String::from),
        _ => None,
    }
}

/// Classify an SDK error of the call `op` (which names its IAM action).
pub fn classify<E>(op: &'static Op, e: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (iam_action, op) = (op.iam, op.api);
    match &e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se
                .err()
                .code()
                .map(String::from)
                .unwrap_or_else(|| format!("HTTP {status}"));
            let message = se.err().message().unwrap_or("no error message").to_string();
            if DENIED.contains(&code.as_str()) || status == 403 {
                PortError::AccessDenied {
                    op,
                    iam_action,
                    code,
                    message,
                }
            } else if TRANSIENT_CODES.contains(&code.as_str()) || status >= 500 || status == 429 {
                PortError::Transient { op, code, message }
            } else {
                PortError::Permanent { op, code, message }
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortError::Transient {
                op,
                code: "NetworkError".into(),
                message: format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
            }
        }
        _ => PortError::Permanent {
            op,
            code: "ClientError".into(),
            message: format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ),
        },
    }
}

/// Errors that stop a handler invocation. Lambda sees the message; every variant says
/// whether a retry can help.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error("malformed event (permanent; kept by the on-failure destination): {0}")]
    Malformed(String),
    #[error("looking up a fact failed ({kind}): {0}", kind = .0.kind())]
    Lookup(PortError),
    /// The event's account could not be reached (its member role could not be assumed, or
    /// none is configured): nothing could be decided there.
    #[error("the event's account could not be reached ({kind}): {0}", kind = .0.kind())]
    Unreachable(PortError),
    #[error("{failed} remediation step(s) failed ({kind}): {summary}")]
    Remediation {
        failed: usize,
        kind: &'static str,
        summary: String,
        /// Every failure was the breaker holding the action back.
        breaker: bool,
    },
    #[error("notification failed ({kind}): {0}", kind = .0.kind())]
    Notify(PortError),
    /// Every action stands, but the finding the event carried could not be updated in
    /// Security Hub or archived in GuardDuty (only a transient failure is returned: a
    /// permanent one is only reported).
    #[error("the finding was not updated ({kind}): {0}", kind = .0.kind())]
    FindingUpdate(PortError),
    /// Mode approve: the plan could not be kept in the ledger, or an approved one read.
    #[error("the plan waiting for approval could not be kept or read ({kind}): {0}", kind = .0.kind())]
    Approval(PortError),
    #[error("internal: {0}")]
    Internal(String),
}

/// The failure classes Lambda reports as `errorType` (docs/src/reliability.md, "Errors"): a retryable one ends
/// in `Retryable`, so one filter finds every failure a retry can clear.
pub const ERROR_TYPES: [&str; 15] = [
    "MalformedEvent",
    "LookupFailed",
    "LookupFailedRetryable",
    "MemberRoleUnavailable",
    "MemberRoleUnavailableRetryable",
    "RemediationFailed",
    "RemediationFailedRetryable",
    "BreakerOpen",
    "NotificationFailed",
    "NotificationFailedRetryable",
    "FindingUpdateFailed",
    "FindingUpdateFailedRetryable",
    "ApprovalFailed",
    "ApprovalFailedRetryable",
    "Internal",
];

impl HandlerError {
    /// Whether delivering the event again can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            HandlerError::Lookup(e)
            | HandlerError::Unreachable(e)
            | HandlerError::Notify(e)
            | HandlerError::FindingUpdate(e)
            | HandlerError::Approval(e) => e.is_retryable(),
            HandlerError::Remediation { kind, .. } => *kind == "retryable",
            HandlerError::Malformed(_) | HandlerError::Internal(_) => false,
        }
    }

    /// The failure's class, Lambda's `errorType` (one of [`ERROR_TYPES`]).
    pub fn error_type(&self) -> String {
        let class = match self {
            HandlerError::Malformed(_) => return "MalformedEvent".into(),
            HandlerError::Internal(_) => return "Internal".into(),
            HandlerError::Remediation { breaker: true, .. } => return "BreakerOpen".into(),
            HandlerError::Lookup(_) => "LookupFailed",
            HandlerError::Unreachable(_) => "MemberRoleUnavailable",
            HandlerError::Remediation { .. } => "RemediationFailed",
            HandlerError::Notify(_) => "NotificationFailed",
            HandlerError::FindingUpdate(_) => "FindingUpdateFailed",
            HandlerError::Approval(_) => "ApprovalFailed",
        };
        if self.is_retryable() {
            format!("{class}Retryable")
        } else {
            class.to_string()
        }
    }
}

/// What Lambda reports for a failed invocation: the class as `errorType` (seen in the
/// console, the failure queue's `responsePayload` and CloudWatch), the message as it is.
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_class_and_retryable_ones_say_so() {
        let transient = PortError::Transient {
            op: "X",
            code: "Throttling".into(),
            message: "m".into(),
        };
        let denied = PortError::Permanent {
            op: "AssumeRole",
            code: "AccessDenied".into(),
            message: "m".into(),
        };
        let remediation = |kind, breaker| HandlerError::Remediation {
            failed: 1,
            kind,
            summary: "s".into(),
            breaker,
        };
        let cases = [
            (HandlerError::Malformed("m".into()), "MalformedEvent"),
            (
                HandlerError::Lookup(transient.clone()),
                "LookupFailedRetryable",
            ),
            (HandlerError::Lookup(denied.clone()), "LookupFailed"),
            (
                HandlerError::Unreachable(denied.clone()),
                "MemberRoleUnavailable",
            ),
            (
                HandlerError::Unreachable(transient.clone()),
                "MemberRoleUnavailableRetryable",
            ),
            (remediation("permanent", false), "RemediationFailed"),
            (
                remediation("retryable", false),
                "RemediationFailedRetryable",
            ),
            (remediation("retryable", true), "BreakerOpen"),
            (
                HandlerError::Notify(transient),
                "NotificationFailedRetryable",
            ),
            (HandlerError::Notify(denied.clone()), "NotificationFailed"),
            (HandlerError::Approval(denied), "ApprovalFailed"),
            (HandlerError::Internal("i".into()), "Internal"),
        ];
        for (e, want) in cases {
            let message = e.to_string();
            let d = lambda_runtime::Diagnostic::from(e);
            assert_eq!(d.error_type, want);
            assert!(ERROR_TYPES.contains(&want), "{want} is listed");
            assert_eq!(d.error_message, message);
        }
    }
}
