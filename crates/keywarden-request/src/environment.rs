use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A named environment (Production, Test...): variables for `${env.NAME}`, and
/// optionally a query parameter naming it on every request (`_profile=Test`).
///
/// Variables are stored in the local database in clear: they are for hosts, tenant
/// ids and the like. Secrets belong in the vault and are referenced as `${secret.NAME}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub name: String,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub query_param: Option<EnvQueryParam>,
    /// Whether this environment is production (a non-production key sent here is flagged).
    #[serde(default)]
    pub production: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct EnvQueryParam {
    pub name: String,
    pub value: String,
}

impl Environment {
    pub fn validate(&self) -> Result<(), crate::RequestError> {
        keywarden_core::EnvironmentName::new(self.name.as_str())
            .map_err(|e| crate::RequestError::invalid("name", e.to_string()))?;
        for k in self.variables.keys() {
            if k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(crate::RequestError::invalid(
                    "variables",
                    format!("{k:?} is not a variable name (letters, digits, '_' and '-')"),
                ));
            }
        }
        Ok(())
    }
}
