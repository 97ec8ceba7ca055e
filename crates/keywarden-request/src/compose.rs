//! The send workflow, once for every face: the window (`keywarden-app`) and `kw send`
//! call the same [`Composer`] and only translate its answers.
//!
//! load the key profile and environment → [`prepare`](crate::prepare) (one secret-store
//! read per secret) → send → record history (templates and fingerprints) → mask what came
//! back with one [`Masker`] built from every value that was sent → a [`Verdict`].

use keywarden_vault::Vault;

use crate::environment::Environment;
use crate::error::RequestError;
use crate::mask::{MaskReport, Masker};
use crate::preflight::{Finding, Level, explain_refusal};
use crate::prepare::{MetadataResolver, PreparedRequest, VaultResolver, prepare};
use crate::profile::KeyProfile;
use crate::send::{Response, Sender};
use crate::spec::RequestSpec;
use crate::store;

/// How a face should report an outcome, as data: `kw` maps it to its exit code
/// (0, `--fail` → 1, 1, 2), the window to its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The server answered 2xx.
    Success,
    /// The server answered, with another status.
    Refused,
    /// Nothing usable came back: destination refused before sending, unreachable, timed
    /// out, secret disabled or store unavailable, database error.
    Failed,
    /// The request as written is wrong: template, method, header, unknown profile or
    /// environment. Fix the input and try again.
    Input,
}

/// The key profile and environment a request names.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub profile: Option<KeyProfile>,
    pub environment: Option<Environment>,
}

/// A prepared request and the masker for what may come back.
#[derive(Debug)]
pub struct Composed {
    pub request: PreparedRequest,
    masker: Masker,
}

impl Composed {
    /// Recognises every secret value this request carries, alone, encoded, and as the
    /// rendered header or body that holds it.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// The response as a face may show it: every secret value and encoding replaced.
    pub fn show(&self, response: &Response) -> ShownResponse {
        let m = &self.masker;
        let mut mask = MaskReport::default();
        let status_line = m.mask_str(
            &format!(
                "{} {} {}",
                response.version, response.status, response.reason
            ),
            &mut mask,
        );
        let headers = response
            .headers
            .iter()
            .map(|(k, v)| (m.mask_str(k, &mut mask), m.mask_str(v, &mut mask)))
            .collect();
        let mut body = Vec::with_capacity(response.body.len());
        let mut body_mask = MaskReport::default();
        if response.truncated {
            // A value cut in half at the end is still a value.
            let mut stream = m.stream();
            stream.push(&response.body, &mut body);
            stream.finish_cut(&mut body);
            body_mask = stream.report().clone();
        } else {
            m.mask_into(&response.body, &mut body, &mut body_mask);
        }
        mask.merge(&body_mask);
        let redirects = response
            .redirects
            .iter()
            .map(|(code, to)| m.mask_str(&format!("{code} → {to}"), &mut mask))
            .collect();
        ShownResponse {
            status_line,
            headers,
            body,
            redirects,
            mask,
            body_mask,
        }
    }
}

/// A response with every secret value the request carried replaced by `[secret.NAME]`.
#[derive(Debug, Clone)]
pub struct ShownResponse {
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Each redirect followed: `302 → https://...`.
    pub redirects: Vec<String>,
    /// What was replaced, everywhere.
    pub mask: MaskReport,
    /// What was replaced in the body alone.
    pub body_mask: MaskReport,
}

/// What a send produced. `Debug` shows the masked response only.
pub struct Sent {
    /// The response as received. Secret values an echo endpoint repeats are in it: show
    /// [`Sent::shown`] unless the person explicitly asked to reveal.
    pub response: Response,
    pub shown: ShownResponse,
    /// The request's pre-flight findings, and `response-echoes-secret` when the response
    /// repeated a value.
    pub findings: Vec<Finding>,
    /// After a 401 or 403: the rules that may explain it.
    pub explanation: Vec<String>,
    /// The history entry, when history is recorded and the write succeeded.
    pub history_id: Option<i64>,
    /// Why the history entry could not be written (the request was sent all the same).
    pub history_error: Option<RequestError>,
}

impl std::fmt::Debug for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sent")
            .field("status", &self.response.status)
            .field("shown", &self.shown)
            .field("findings", &self.findings)
            .field("history_id", &self.history_id)
            .finish_non_exhaustive()
    }
}

impl Sent {
    pub fn verdict(&self) -> Verdict {
        if (200..300).contains(&self.response.status) {
            Verdict::Success
        } else {
            Verdict::Refused
        }
    }
}

/// The send workflow over one vault.
pub struct Composer<'v> {
    vault: &'v Vault,
    history: bool,
}

impl<'v> Composer<'v> {
    /// A composer that records every send, and every request that could not be prepared,
    /// in history.
    pub fn new(vault: &'v Vault) -> Self {
        Self {
            vault,
            history: true,
        }
    }

    /// Whether sends and preparation failures go to history (off for `--no-history`,
    /// dry runs and curl copies).
    pub fn record_history(mut self, on: bool) -> Self {
        self.history = on;
        self
    }

    /// The key profile and environment the request names (an empty name is none).
    pub fn load(&self, spec: &RequestSpec) -> Result<Loaded, RequestError> {
        let profile = spec
            .profile
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| self.vault.with_db(|c| store::profile(c, p)))
            .transpose()?;
        let environment = spec
            .environment
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(|e| self.vault.with_db(|c| store::environment(c, e)))
            .transpose()?;
        Ok(Loaded {
            profile,
            environment,
        })
    }

    /// Renders for display without reading any secret value (every secret is a placeholder;
    /// destination binding and pre-flight checks see the real metadata).
    pub fn preview(&self, spec: &RequestSpec) -> Result<PreparedRequest, RequestError> {
        let loaded = self.load(spec)?;
        let env = loaded.environment.as_ref();
        let mut resolver = MetadataResolver::new(self.vault, env);
        prepare(spec, loaded.profile.as_ref(), env, &mut resolver)
    }

    /// Renders with the real values (one secret-store read per secret) and builds the
    /// masker. A request that cannot be prepared is recorded in history with the reason.
    pub fn prepare(&self, spec: &RequestSpec) -> Result<Composed, RequestError> {
        let loaded = self.load(spec)?;
        let env = loaded.environment.as_ref();
        let mut resolver = VaultResolver::new(self.vault, env);
        match prepare(spec, loaded.profile.as_ref(), env, &mut resolver) {
            Ok(request) => {
                let masker = request_masker(&resolver, &request);
                Ok(Composed { request, masker })
            }
            Err(e) => {
                if self.history {
                    let message = e.to_string();
                    let _ = self
                        .vault
                        .with_db(|c| store::record_history(c, spec, None, Err(&message)));
                }
                Err(e)
            }
        }
    }

    /// Sends, records the history entry, and masks the response.
    pub async fn send(&self, composed: &Composed, sender: &Sender) -> Result<Sent, RequestError> {
        let request = &composed.request;
        let result = sender.send(request).await;
        let history = self.history.then(|| {
            let outcome = match &result {
                Ok(r) => Ok((r.status, r.duration, r.body.len())),
                Err(e) => Err(e.to_string()),
            };
            self.vault.with_db(|c| {
                store::record_history(
                    c,
                    &request.spec,
                    Some(request),
                    outcome.as_ref().map(|o| *o).map_err(|e| e.as_str()),
                )
            })
        });
        let response = result?;
        tracing::info!(
            status = response.status,
            ms = response.duration.as_millis() as u64,
            "request sent"
        );
        let (history_id, history_error) = match history {
            Some(Ok(id)) => (Some(id), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        let shown = composed.show(&response);
        let mut findings = request.findings.clone();
        if !shown.mask.is_empty() {
            findings.push(Finding {
                level: Level::Warning,
                code: "response-echoes-secret".into(),
                message: format!(
                    "the response repeats the value of {}; it is shown here as a placeholder",
                    shown
                        .mask
                        .secrets
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(Sent {
            explanation: explain_refusal(request, response.status),
            response,
            shown,
            findings,
            history_id,
            history_error,
        })
    }
}

/// Every value the request carries: each secret read, and each rendered header or body
/// that holds one (so a value derived from a secret, such as a signature, is caught too).
fn request_masker(resolver: &VaultResolver<'_>, request: &PreparedRequest) -> Masker {
    let mut builder = Masker::builder();
    let mut values: Vec<_> = resolver.values().collect();
    values.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in values {
        builder.secret(name, value.expose().as_bytes());
    }
    let names_in = |preview: &str| -> Vec<String> {
        request
            .secrets
            .iter()
            .filter(|s| mentions(preview, &s.name))
            .map(|s| s.name.clone())
            .collect()
    };
    for h in request.headers.iter().filter(|h| h.secret) {
        builder.rendered(h.expose().as_bytes(), &h.preview, &names_in(&h.preview));
    }
    if let Some(body) = request.body.as_ref().filter(|b| b.secret) {
        builder.rendered(body.expose(), &body.preview, &names_in(&body.preview));
    }
    builder.build()
}

/// Whether a preview names `secret.NAME` (not a longer name that starts the same).
fn mentions(preview: &str, name: &str) -> bool {
    let needle = format!("secret.{name}");
    preview.match_indices(&needle).any(|(i, _)| {
        !preview[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}
