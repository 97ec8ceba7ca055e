use keywarden_template::TemplateError;

use crate::compose::Verdict;

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
    /// Whether the request as written is wrong ([`Verdict::Input`]) or the operation failed
    /// ([`Verdict::Failed`]); faces turn this into an exit code or a state.
    pub fn verdict(&self) -> Verdict {
        use keywarden_template::ErrorKind as K;
        use keywarden_vault::VaultError as V;
        match self {
            RequestError::Template { source, .. } => match source.kind {
                K::DisabledSecret(_) | K::SecretUnavailable { .. } => Verdict::Failed,
                _ => Verdict::Input,
            },
            RequestError::Invalid { .. }
            | RequestError::UnknownProfile(_)
            | RequestError::UnknownEnvironment(_) => Verdict::Input,
            RequestError::Vault(
                V::Invalid { .. }
                | V::NameTaken(_)
                | V::Store(keywarden_vault::StoreError::TooLarge { .. })
                | V::File(keywarden_vault::filevault::FileVaultError::WeakPassphrase(_)),
            ) => Verdict::Input,
            RequestError::Vault(_)
            | RequestError::Destination(_)
            | RequestError::Send(_)
            | RequestError::Timeout(_)
            | RequestError::Db(_) => Verdict::Failed,
        }
    }

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
