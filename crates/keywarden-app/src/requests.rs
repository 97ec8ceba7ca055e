//! The Requests screen's commands: profiles, environments, preview, send, curl, history.
//! Each is an adapter over [`Composer`] or `keywarden_request::store`.

use keywarden_request::{Composer, PreparedRequest, RequestError, SendOptions, Sender, store};

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
        let prepared = Composer::new(self.vault()?)
            .preview(&spec)
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

    /// Sends through the [`Composer`] (one secret-store read per secret, history, echo
    /// masking): what reaches the window has every value the request carried, and each of
    /// its encodings, replaced by `[secret.NAME]`.
    ///
    /// IPC command `send_request` (`{ req: RequestSpec }`, `api.sendRequest` in the UI).
    /// Masked fields of the answer: `headers[].name`/`headers[].value`, `body`, `redirects`;
    /// `findings` then holds `response-echoes-secret` naming the secrets. Not server text:
    /// `status`, `reason` (canonical), `version`; `bodyBytes` is the size received, before
    /// masking. The window shows them in `ResponseView.tsx` (`response-body`,
    /// `response-headers`, `response-finding[data-code=response-echoes-secret]`).
    pub fn send_request(&self, spec: RequestSpec) -> Result<SendResult, IpcError> {
        let composer = Composer::new(self.vault()?);
        let composed = composer.prepare(&spec).map_err(request_error)?;
        let sender = Sender::new(SendOptions::default()).map_err(request_error)?;
        let sent = self
            .runtime()?
            .block_on(composer.send(&composed, &sender))
            .map_err(request_error)?;
        if let Some(e) = sent.history_error {
            return Err(request_error(e));
        }
        let shown = sent.shown;
        Ok(SendResult {
            status: sent.response.status,
            reason: sent.response.reason.clone(),
            version: sent.response.version.clone(),
            headers: shown
                .headers
                .into_iter()
                .map(|(name, value)| HeaderView { name, value })
                .collect(),
            body: String::from_utf8_lossy(&shown.body).into_owned(),
            body_is_text: std::str::from_utf8(&sent.response.body).is_ok(),
            body_bytes: sent.response.body.len() as u32,
            truncated: sent.response.truncated,
            duration_ms: sent.response.duration.as_secs_f64() * 1000.0,
            findings: sent.findings,
            explanation: sent.explanation,
            dropped_headers: sent.response.dropped_headers.clone(),
            redirects: shown.redirects,
            history_id: sent.history_id.unwrap_or_default(),
        })
    }

    /// Copies the request as a curl command. Redacted unless `reveal`; a revealed
    /// command is cleared from the clipboard after 30 s like any secret.
    pub fn copy_as_curl(&self, req: CopyCurl) -> Result<CurlCopied, IpcError> {
        let composer = Composer::new(self.vault()?).record_history(false);
        let clip_err = |e: String| IpcError {
            code: ErrorCode::Internal,
            message: format!("could not write the clipboard: {e}"),
            field: None,
        };
        if req.reveal {
            let composed = composer.prepare(&req.spec).map_err(request_error)?;
            let revealed =
                zeroize::Zeroizing::new(keywarden_request::to_curl(&composed.request, true));
            self.clipboard
                .copy(&revealed, CLIPBOARD_CLEAR_AFTER)
                .map_err(clip_err)?;
            Ok(CurlCopied {
                redacted: keywarden_request::to_curl(&composed.request, false),
                clears_after_seconds: Some(CLIPBOARD_CLEAR_AFTER.as_secs() as u32),
            })
        } else {
            let prepared = composer.preview(&req.spec).map_err(request_error)?;
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
