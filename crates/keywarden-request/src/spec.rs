use serde::{Deserialize, Serialize};

/// A request made of templates: what saved requests and history store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RequestSpec {
    pub method: String,
    /// A template: `https://${env.host}/v1/items`.
    pub url: String,
    #[serde(default)]
    pub query: Vec<KeyValue>,
    #[serde(default)]
    pub headers: Vec<KeyValue>,
    #[serde(default)]
    pub body: Body,
    /// A key profile by name.
    #[serde(default)]
    pub profile: Option<String>,
    /// An environment by name.
    #[serde(default)]
    pub environment: Option<String>,
}

/// A name and a value template, which can be switched off without deleting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    pub name: String,
    pub value: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl KeyValue {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            enabled: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Body {
    #[default]
    None,
    /// A JSON body template; sent with `Content-Type: application/json`.
    Json { template: String },
    /// `application/x-www-form-urlencoded` fields.
    Form { fields: Vec<KeyValue> },
    /// Any text with its content type.
    #[serde(rename_all = "camelCase")]
    Raw {
        content_type: String,
        template: String,
    },
}

impl RequestSpec {
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: "GET".into(),
            url: url.into(),
            query: vec![],
            headers: vec![],
            body: Body::None,
            profile: None,
            environment: None,
        }
    }
}
