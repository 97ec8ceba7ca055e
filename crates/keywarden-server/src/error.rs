//! The service's error type. The HTTP layer turns it into a stable JSON body
//! `{code, message, field}`; internal details go to the log, never to the client.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or a value is out of range (400).
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: Option<String>,
        message: String,
    },
    /// No valid credential (401).
    #[error("a valid admin key or session token is required")]
    Unauthenticated,
    /// The caller lacks a privilege or does not own the object (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("the object changed since you read it: fetch it again and retry with its new ETag")]
    PreconditionFailed,
    #[error("this request must carry an If-Match header with the object's ETag")]
    PreconditionRequired,
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    IdempotencyInFlight,
    #[error("too many requests; retry after {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    #[error("the server could not complete the request")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            code: "invalid_field",
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code,
            field: None,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Error::Conflict(format!("{what} already exists")),
            StoreError::VersionMismatch => Error::PreconditionFailed,
            StoreError::NotFound => Error::NotFound("object"),
            other => Error::Internal(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
