//! The one error type of the admin crate. Messages say what happened and what to do
//! next; they never contain a key, a password or a token.

use keywarden_vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no {what} {id:?} in the local admin view; run a sync to refresh it")]
    NotFound { what: &'static str, id: String },
    #[error(
        "no key server is configured; connect one (`kw admin connect URL`) or use the embedded server (`kw admin connect --embedded`)"
    )]
    NoConnection,
    #[error("no connection named {0:?}; `kw admin status` lists them")]
    UnknownConnection(String),
    #[error(
        "the key server did not accept the admin credential for {connection:?}; sign in again (`kw admin connect`)"
    )]
    Unauthenticated { connection: String },
    #[error("the key server refused: {0}")]
    Refused(String),
    #[error("cannot reach the key server at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("no outbox action #{0}")]
    NoSuchAction(i64),
    #[error("outbox action #{seq} is {state}, not {expected}")]
    WrongState {
        seq: i64,
        state: String,
        expected: &'static str,
    },
    #[error("the embedded key server could not start: {0}")]
    Embedded(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("the local database failed: {0}; nothing was queued")]
    Db(String),
    #[error("{0}")]
    Internal(String),
}

impl From<rusqlite::Error> for AdminError {
    fn from(e: rusqlite::Error) -> Self {
        AdminError::Db(e.to_string())
    }
}

impl From<keywarden_vault::db::DbError> for AdminError {
    fn from(e: keywarden_vault::db::DbError) -> Self {
        AdminError::Vault(VaultError::Db(e))
    }
}

impl AdminError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        AdminError::Invalid {
            field,
            message: message.to_string(),
        }
    }
}

pub type Result<T, E = AdminError> = std::result::Result<T, E>;
