use keywarden_template::TemplateError;

/// Why a request could not be prepared or sent. Never contains a secret value.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{field}: {source}")]
    Template {
        field: String,
        source: TemplateError,
    },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("no key profile named {0:?}")]
    UnknownProfile(String),
    #[error("no environment named {0:?}")]
    UnknownEnvironment(String),
    #[error("refused: {0}")]
    Destination(String),
    #[error("could not send the request: {0}")]
    Send(String),
    #[error("request timed out after {0} seconds")]
    Timeout(u64),
    #[error(transparent)]
    Vault(#[from] keywarden_vault::VaultError),
    #[error("database error: {0}")]
    Db(String),
}

impl RequestError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<rusqlite::Error> for RequestError {
    fn from(e: rusqlite::Error) -> Self {
        RequestError::Db(e.to_string())
    }
}
