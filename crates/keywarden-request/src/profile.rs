use keywarden_core::{HostPattern, SecretName};
use serde::{Deserialize, Serialize};

use crate::error::RequestError;

/// How a key is presented, and where it may be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct KeyProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The vault secret that holds the key.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub secret: SecretName,
    pub style: Style,
    /// Hosts the key may be sent to. Empty: any host (the secret's own allowed hosts still apply).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Array<string>"))]
    pub allowed_hosts: Vec<HostPattern>,
    /// Refuse to send the key over plain HTTP.
    #[serde(default)]
    pub https_only: bool,
}

/// The presentation styles of the source documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Style {
    /// `Authorization: Bearer <key>`
    Bearer,
    /// `Authorization: Key=<key>`
    KeyEquals,
    /// HTTP Basic with a fixed user name and the key as password.
    Basic { user: String },
    /// A header whose value is a template, e.g. `X-Api-Key: ${secret.k}` or `Authorization: ${secret.k}`.
    Header { name: String, template: String },
    /// A header carrying the key as is (`X-API-Token: <key>`).
    ApiToken { header: String },
    /// A signed JWT made from the key (HMAC secret or PEM private key), sent as `<scheme> <jwt>`.
    #[serde(rename_all = "camelCase")]
    Jwt {
        algorithm: String,
        /// Claims as a JSON template, e.g. `{"sub": "${env.client_id}"}`.
        claims: String,
        #[serde(default)]
        lifetime_seconds: Option<u32>,
        #[serde(default)]
        header: Option<String>,
        #[serde(default)]
        scheme: Option<String>,
    },
    /// The key in a query parameter (`?auth-key=<key>`): allowed, but URLs get logged.
    Query { param: String },
}

/// Where a rendered value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Header(String),
    Query(String),
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Escapes text so that it is literal inside a template.
pub(crate) fn literal(s: &str) -> String {
    s.replace("${", "$${")
}

impl KeyProfile {
    /// Checks the profile's own fields.
    pub fn validate(&self) -> Result<(), RequestError> {
        if self.name.trim().is_empty() || self.name.len() > 64 {
            return Err(RequestError::invalid(
                "name",
                "a profile needs a name of at most 64 characters",
            ));
        }
        let header_ok = |h: &str| crate::prepare::valid_header_name(h);
        match &self.style {
            Style::Basic { user } if user.contains(':') => Err(RequestError::invalid(
                "user",
                "a Basic user name may not contain ':' (RFC 7617)",
            )),
            Style::Basic { user } if user.chars().any(char::is_control) => Err(
                RequestError::invalid("user", "the user name may not contain control characters"),
            ),
            Style::Header { name, .. } | Style::ApiToken { header: name } if !header_ok(name) => {
                Err(RequestError::invalid(
                    "header",
                    format!("{name:?} is not a valid header name"),
                ))
            }
            Style::Jwt {
                scheme: Some(scheme),
                ..
            } if !scheme.is_empty() && !scheme.chars().all(crate::prepare::is_tchar) => {
                Err(RequestError::invalid(
                    "scheme",
                    format!("{scheme:?} is not an authentication scheme (an RFC 9110 token)"),
                ))
            }
            Style::Jwt {
                header: Some(name), ..
            } if !header_ok(name) => Err(RequestError::invalid(
                "header",
                format!("{name:?} is not a valid header name"),
            )),
            Style::Jwt { algorithm, .. }
                if !matches!(
                    algorithm.to_ascii_uppercase().as_str(),
                    "HS256" | "HS384" | "HS512" | "RS256" | "ES256"
                ) =>
            {
                Err(RequestError::invalid(
                    "algorithm",
                    "use HS256, HS384, HS512, RS256 or ES256",
                ))
            }
            Style::Query { param }
                if param.is_empty()
                    || param
                        .chars()
                        .any(|c| c.is_control() || c == '&' || c == '=') =>
            {
                Err(RequestError::invalid(
                    "param",
                    format!("{param:?} is not a usable query parameter name"),
                ))
            }
            _ => Ok(()),
        }?;
        for (placement, template) in self.placements() {
            keywarden_template::Template::parse(&template).map_err(|source| {
                RequestError::Template {
                    field: match placement {
                        Placement::Header(h) => format!("profile {} header {h}", self.name),
                        Placement::Query(q) => format!("profile {} query {q}", self.name),
                    },
                    source,
                }
            })?;
        }
        Ok(())
    }

    /// The templates this profile adds to a request.
    pub fn placements(&self) -> Vec<(Placement, String)> {
        let secret = format!("secret.{}", self.secret);
        let header =
            |name: &str, template: String| vec![(Placement::Header(name.to_owned()), template)];
        match &self.style {
            Style::Bearer => header("Authorization", format!("Bearer ${{{secret}}}")),
            Style::KeyEquals => header("Authorization", format!("Key=${{{secret}}}")),
            Style::Basic { user } => header(
                "Authorization",
                format!("${{basic({}, {secret})}}", quote(user)),
            ),
            Style::Header { name, template } => header(name, template.clone()),
            Style::ApiToken { header: name } => header(name, format!("${{{secret}}}")),
            Style::Jwt {
                algorithm,
                claims,
                lifetime_seconds,
                header: name,
                scheme,
            } => {
                let lifetime = lifetime_seconds
                    .map(|l| format!(", {l}"))
                    .unwrap_or_default();
                let scheme = scheme.as_deref().unwrap_or("Bearer");
                let prefix = if scheme.is_empty() {
                    String::new()
                } else {
                    format!("{} ", literal(scheme))
                };
                header(
                    name.as_deref().unwrap_or("Authorization"),
                    format!(
                        "{prefix}${{jwt({}, {secret}, {}{lifetime})}}",
                        quote(algorithm),
                        quote(claims)
                    ),
                )
            }
            Style::Query { param } => {
                vec![(Placement::Query(param.clone()), format!("${{{secret}}}"))]
            }
        }
    }

    /// A short description of the style, for lists.
    pub fn describe(&self) -> String {
        match &self.style {
            Style::Bearer => "Authorization: Bearer <key>".into(),
            Style::KeyEquals => "Authorization: Key=<key>".into(),
            Style::Basic { user } => format!("HTTP Basic, user {user:?}, key as password"),
            Style::Header { name, template } => format!("{name}: {template}"),
            Style::ApiToken { header } => format!("{header}: <key>"),
            Style::Jwt { algorithm, .. } => format!("signed JWT ({algorithm})"),
            Style::Query { param } => format!("query parameter {param}=<key> (logged in URLs)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(style: Style) -> KeyProfile {
        KeyProfile {
            name: "p".into(),
            description: String::new(),
            secret: SecretName::new("k").unwrap(),
            style,
            allowed_hosts: vec![],
            https_only: false,
        }
    }

    #[test]
    fn placements_are_templates() {
        assert_eq!(
            profile(Style::Bearer).placements()[0].1,
            "Bearer ${secret.k}"
        );
        assert_eq!(
            profile(Style::KeyEquals).placements()[0].1,
            "Key=${secret.k}"
        );
        assert_eq!(
            profile(Style::Basic {
                user: "hap'lo".into()
            })
            .placements()[0]
                .1,
            "${basic('hap\\'lo', secret.k)}"
        );
        let jwt = profile(Style::Jwt {
            algorithm: "HS256".into(),
            claims: "{\"sub\":\"${env.client}\"}".into(),
            lifetime_seconds: Some(60),
            header: None,
            scheme: None,
        });
        assert_eq!(
            jwt.placements()[0].1,
            "Bearer ${jwt('HS256', secret.k, '{\"sub\":\"${env.client}\"}', 60)}"
        );
        for p in [
            profile(Style::Bearer),
            profile(Style::Basic { user: "u".into() }),
            profile(Style::Query {
                param: "auth-key".into(),
            }),
            jwt,
        ] {
            p.validate().unwrap();
        }
    }

    #[test]
    fn validation() {
        assert!(
            profile(Style::Basic { user: "a:b".into() })
                .validate()
                .is_err()
        );
        assert!(
            profile(Style::ApiToken {
                header: "Bad Header".into()
            })
            .validate()
            .is_err()
        );
        assert!(
            profile(Style::Query {
                param: "a&b".into()
            })
            .validate()
            .is_err()
        );
        let jwt = |scheme: &str| Style::Jwt {
            algorithm: "HS256".into(),
            claims: "{}".into(),
            lifetime_seconds: None,
            header: None,
            scheme: Some(scheme.into()),
        };
        assert!(profile(jwt("Bearer")).validate().is_ok());
        assert!(profile(jwt("")).validate().is_ok());
        assert!(profile(jwt("Bear er")).validate().is_err());
        assert!(
            profile(Style::Header {
                name: "X-K".into(),
                template: "${secret.k".into()
            })
            .validate()
            .is_err()
        );
    }

    #[test]
    fn json_shape() {
        let p = profile(Style::Basic {
            user: "haplo".into(),
        });
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["style"]["kind"], "basic");
        assert_eq!(serde_json::from_value::<KeyProfile>(json).unwrap(), p);
    }
}
