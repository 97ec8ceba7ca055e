//! The Requests screen's commands: profiles, environments, preview, send, curl, history.

use keywarden_request::{
    MetadataResolver, PreparedRequest, RequestError, SendOptions, Sender, VaultResolver,
    explain_refusal, store,
};
use keywarden_vault::Vault;

use crate::App;
use crate::app::to_ipc;
use crate::clipboard::CLIPBOARD_CLEAR_AFTER;
use crate::ipc::*;

pub(crate) fn request_error(err: RequestError) -> IpcError {
    let (code, field) = match &err {
        RequestError::Vault(_) => {
            return match err {
                RequestError::Vault(v) => to_ipc(v),
                _ => unreachable_ipc(),
            };
        }
        RequestError::Template { field, .. } => (ErrorCode::Template, Some(field.clone())),
        RequestError::Invalid { field, .. } => (ErrorCode::InvalidInput, Some(field.clone())),
        RequestError::UnknownProfile(_) => (ErrorCode::NotFound, Some("profile".into())),
        RequestError::UnknownEnvironment(_) => (ErrorCode::NotFound, Some("environment".into())),
        RequestError::Destination(_) => (ErrorCode::Refused, None),
        RequestError::Send(_) => (ErrorCode::SendFailed, None),
        RequestError::Timeout(_) => (ErrorCode::Timeout, None),
        RequestError::Db(_) => (ErrorCode::Database, None),
    };
    IpcError {
        code,
        message: err.to_string(),
        field,
    }
}

fn unreachable_ipc() -> IpcError {
    IpcError {
        code: ErrorCode::Internal,
        message: "internal error".into(),
        field: None,
    }
}

/// The secret values a request carried (alone, and as the rendered headers that hold them),
/// each with the placeholder the window shows instead. Values shorter than 6 characters are
/// left alone: they would match ordinary text.
struct EchoMask {
    needles: Vec<(zeroize::Zeroizing<String>, String, String)>,
}

impl EchoMask {
    const MIN_LEN: usize = 6;

    fn new(resolver: &VaultResolver<'_>, prepared: &PreparedRequest) -> Self {
        let mut needles: Vec<(zeroize::Zeroizing<String>, String, String)> = Vec::new();
        for h in prepared.headers.iter().filter(|h| h.secret) {
            let name = prepared
                .secrets
                .iter()
                .find(|s| h.preview.contains(&format!("[secret.{}]", s.name)))
                .map(|s| s.name.clone())
                .unwrap_or_else(|| h.name.clone());
            needles.push((h.expose().to_owned().into(), h.preview.clone(), name));
        }
        for (name, value) in resolver.values() {
            needles.push((
                value.expose().to_owned().into(),
                format!("[secret.{name}]"),
                name.to_owned(),
            ));
        }
        needles.retain(|(n, _, _)| n.chars().count() >= Self::MIN_LEN);
        // Longest first, so a whole header is replaced before the key inside it.
        needles.sort_by_key(|(n, _, _)| std::cmp::Reverse(n.len()));
        Self { needles }
    }

    fn apply(&self, text: &str, echoed: &mut Vec<String>) -> String {
        let mut out = text.to_owned();
        for (needle, placeholder, name) in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), placeholder);
                if !echoed.contains(name) {
                    echoed.push(name.clone());
                }
            }
        }
        out
    }
}

fn headers(prepared: &PreparedRequest) -> Vec<HeaderView> {
    prepared
        .headers
        .iter()
        .map(|h| HeaderView {
            name: h.name.clone(),
            value: h.preview.clone(),
        })
        .collect()
}

impl App {
    fn loaded(
        &self,
        vault: &Vault,
        spec: &RequestSpec,
    ) -> Result<(Option<KeyProfile>, Option<Environment>), IpcError> {
        let profile = spec
            .profile
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| vault.with_db(|c| store::profile(c, p)))
            .transpose()
            .map_err(request_error)?;
        let env = spec
            .environment
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(|e| vault.with_db(|c| store::environment(c, e)))
            .transpose()
            .map_err(request_error)?;
        Ok((profile, env))
    }

    pub fn list_profiles(&self) -> Result<Vec<KeyProfile>, IpcError> {
        self.vault()?
            .with_db(|c| store::profiles(c))
            .map_err(request_error)
    }

    pub fn save_profile(&self, profile: KeyProfile) -> Result<Vec<KeyProfile>, IpcError> {
        let vault = self.vault()?;
        vault.find(profile.secret.as_str()).map_err(|_| IpcError {
            code: ErrorCode::InvalidInput,
            message: format!("no secret named {:?} in the vault", profile.secret.as_str()),
            field: Some("secret".into()),
        })?;
        vault
            .with_db(|c| store::save_profile(c, &profile))
            .map_err(request_error)?;
        self.list_profiles()
    }

    pub fn delete_profile(&self, req: NameRef) -> Result<Vec<KeyProfile>, IpcError> {
        self.vault()?
            .with_db(|c| store::delete_profile(c, &req.name))
            .map_err(request_error)?;
        self.list_profiles()
    }

    pub fn list_environments(&self) -> Result<Vec<Environment>, IpcError> {
        self.vault()?
            .with_db(|c| store::environments(c))
            .map_err(request_error)
    }

    pub fn save_environment(&self, env: Environment) -> Result<Vec<Environment>, IpcError> {
        self.vault()?
            .with_db(|c| store::save_environment(c, &env))
            .map_err(request_error)?;
        self.list_environments()
    }

    pub fn delete_environment(&self, req: NameRef) -> Result<Vec<Environment>, IpcError> {
        self.vault()?
            .with_db(|c| store::delete_environment(c, &req.name))
            .map_err(request_error)?;
        self.list_environments()
    }

    /// Renders the request for display without reading any secret value.
    pub fn preview_request(&self, spec: RequestSpec) -> Result<RequestPreview, IpcError> {
        let vault = self.vault()?;
        let (profile, env) = self.loaded(vault, &spec)?;
        let mut resolver = MetadataResolver::new(vault, env.as_ref());
        let prepared =
            keywarden_request::prepare(&spec, profile.as_ref(), env.as_ref(), &mut resolver)
                .map_err(request_error)?;
        Ok(RequestPreview {
            method: prepared.method.clone(),
            url: prepared.url_preview.clone(),
            headers: headers(&prepared),
            body: prepared.body.as_ref().map(|b| b.preview.clone()),
            findings: prepared.findings.clone(),
            secrets: prepared
                .secrets
                .iter()
                .map(|s| UsedSecretRef {
                    name: s.name.clone(),
                    fingerprint: s.fingerprint.clone(),
                })
                .collect(),
            curl: keywarden_request::to_curl(&prepared, false),
        })
    }

    /// Renders (one secret-store read per secret), sends, and records the history entry.
    pub fn send_request(&self, spec: RequestSpec) -> Result<SendResult, IpcError> {
        let vault = self.vault()?;
        let (profile, env) = self.loaded(vault, &spec)?;
        let mut resolver = VaultResolver::new(vault, env.as_ref());
        let prepared = match keywarden_request::prepare(
            &spec,
            profile.as_ref(),
            env.as_ref(),
            &mut resolver,
        ) {
            Ok(p) => p,
            Err(e) => {
                let message = e.to_string();
                let _ = vault.with_db(|c| store::record_history(c, &spec, None, Err(&message)));
                return Err(request_error(e));
            }
        };
        let sender = Sender::new(SendOptions::default()).map_err(request_error)?;
        let result = self.runtime()?.block_on(sender.send(&prepared));
        let outcome = match &result {
            Ok(r) => Ok((r.status, r.duration, r.body.len())),
            Err(e) => Err(e.to_string()),
        };
        let history_id = vault
            .with_db(|c| {
                store::record_history(
                    c,
                    &spec,
                    Some(&prepared),
                    outcome.as_ref().map(|o| *o).map_err(|e| e.as_str()),
                )
            })
            .map_err(request_error)?;
        let resp = result.map_err(request_error)?;
        tracing::info!(
            status = resp.status,
            ms = resp.duration.as_millis() as u64,
            "request sent"
        );
        let body_is_text = std::str::from_utf8(&resp.body).is_ok();
        // Echo endpoints repeat what they were sent: the window gets placeholders instead.
        let mask = EchoMask::new(&resolver, &prepared);
        let mut echoed = Vec::new();
        let headers = resp
            .headers
            .iter()
            .map(|(k, v)| HeaderView {
                name: k.clone(),
                value: mask.apply(v, &mut echoed),
            })
            .collect();
        let body = mask.apply(&String::from_utf8_lossy(&resp.body), &mut echoed);
        let mut findings = prepared.findings.clone();
        if !echoed.is_empty() {
            findings.push(Finding {
                level: Level::Warning,
                code: "response-echoes-secret".into(),
                message: format!(
                    "the response repeats the value of {}; it is shown here as a placeholder",
                    echoed
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(SendResult {
            status: resp.status,
            reason: resp.reason.clone(),
            version: resp.version.clone(),
            headers,
            body,
            body_is_text,
            body_bytes: resp.body.len() as u32,
            truncated: resp.truncated,
            duration_ms: resp.duration.as_secs_f64() * 1000.0,
            findings,
            explanation: explain_refusal(&prepared, resp.status),
            dropped_headers: resp.dropped_headers.clone(),
            redirects: resp
                .redirects
                .iter()
                .map(|(code, to)| format!("{code} → {to}"))
                .collect(),
            history_id,
        })
    }

    /// Copies the request as a curl command. Redacted unless `reveal`; a revealed
    /// command is cleared from the clipboard after 30 s like any secret.
    pub fn copy_as_curl(&self, req: CopyCurl) -> Result<CurlCopied, IpcError> {
        let vault = self.vault()?;
        let (profile, env) = self.loaded(vault, &req.spec)?;
        let clip_err = |e: String| IpcError {
            code: ErrorCode::Internal,
            message: format!("could not write the clipboard: {e}"),
            field: None,
        };
        if req.reveal {
            let mut resolver = VaultResolver::new(vault, env.as_ref());
            let prepared = keywarden_request::prepare(
                &req.spec,
                profile.as_ref(),
                env.as_ref(),
                &mut resolver,
            )
            .map_err(request_error)?;
            let revealed = zeroize::Zeroizing::new(keywarden_request::to_curl(&prepared, true));
            self.clipboard
                .copy(&revealed, CLIPBOARD_CLEAR_AFTER)
                .map_err(clip_err)?;
            Ok(CurlCopied {
                redacted: keywarden_request::to_curl(&prepared, false),
                clears_after_seconds: Some(CLIPBOARD_CLEAR_AFTER.as_secs() as u32),
            })
        } else {
            let mut resolver = MetadataResolver::new(vault, env.as_ref());
            let prepared = keywarden_request::prepare(
                &req.spec,
                profile.as_ref(),
                env.as_ref(),
                &mut resolver,
            )
            .map_err(request_error)?;
            let redacted = keywarden_request::to_curl(&prepared, false);
            self.clipboard.copy_plain(&redacted).map_err(clip_err)?;
            Ok(CurlCopied {
                redacted,
                clears_after_seconds: None,
            })
        }
    }

    pub fn list_history(&self, req: HistoryQuery) -> Result<Vec<HistoryEntry>, IpcError> {
        self.vault()?
            .with_db(|c| store::history(c, req.limit.clamp(1, 1000)))
            .map_err(request_error)
    }

    pub fn clear_history(&self) -> Result<(), IpcError> {
        self.vault()?
            .with_db(|c| store::clear_history(c))
            .map_err(request_error)
    }

    pub fn list_saved_requests(&self) -> Result<Vec<SavedRequest>, IpcError> {
        self.vault()?
            .with_db(|c| store::saved_requests(c))
            .map_err(request_error)
    }

    pub fn save_request(&self, req: SaveRequest) -> Result<SavedRequest, IpcError> {
        self.vault()?
            .with_db(|c| store::save_request(c, &req.collection, &req.name, &req.spec))
            .map_err(request_error)
    }

    pub fn delete_saved_request(&self, req: SecretRef) -> Result<(), IpcError> {
        self.vault()?
            .with_db(|c| store::delete_saved_request(c, &req.id))
            .map_err(request_error)
    }
}
