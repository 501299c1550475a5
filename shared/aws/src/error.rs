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
    #[error("{failed} remediation step(s) failed ({kind}): {summary}")]
    Remediation {
        failed: usize,
        kind: &'static str,
        summary: String,
    },
    #[error("notification failed ({kind}): {0}", kind = .0.kind())]
    Notify(PortError),
    #[error("internal: {0}")]
    Internal(String),
}
