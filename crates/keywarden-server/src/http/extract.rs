//! Extractors and helpers that answer in the stable JSON error shape, and the facts the server believes about a request (peer, client address, credential).

use super::*;

/// The raw request body (bounded), parsed by the handler as JSON whatever its
/// Content-Type, so JSON errors keep our shape.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|_| Error::Invalid {
                code: "body_too_large",
                field: None,
                message: format!(
                    "the request body could not be read (the limit is {MAX_BODY} bytes)"
                ),
            })
    }
}

pub(super) fn json_field(message: &str) -> Option<String> {
    let start = message.find('`')?;
    let rest = &message[start + 1..];
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// Parses a JSON body; an empty body reads as `{}` when `T` allows it.
pub(super) fn parse<'a, T: Deserialize<'a>>(body: &'a Bytes) -> Result<T, Error> {
    let bytes: &'a [u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let code = if e.is_syntax() || e.is_eof() {
            "malformed_json"
        } else {
            "invalid_field"
        };
        let field = if code == "invalid_field" {
            json_field(&message)
        } else {
            None
        };
        // serde's text names the field and the expected type, never the value.
        Error::Invalid {
            code,
            field,
            message: format!("the JSON body is not valid: {message}"),
        }
    })
}

/// A path id, with our error shape.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::bad_request("invalid_path", "the path parameter is not valid"))?;
        if id.is_empty() || id.len() > 64 {
            return Err(Error::NotFound("object"));
        }
        Ok(Id(id))
    }
}

/// Query parameters, with our error shape.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| Q(v))
            .map_err(|e| {
                Error::bad_request(
                    "invalid_query",
                    format!("the query string is not valid: {}", e.body_text()),
                )
            })
    }
}

pub(super) fn peer(parts_ext: &axum::http::Extensions) -> Option<IpAddr> {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
}

/// Whether a peer is a configured trusted gateway. A request with no peer address only
/// happens in-process (the router called directly by the embedding program), which is trusted.
pub fn peer_trusted(service: &Service, peer: Option<IpAddr>) -> bool {
    peer.is_none_or(|p| address_allowed(&service.config.trusted_proxies, p))
}

/// The value of a header that must appear at most once: `Ok(None)` when absent,
/// `Err(())` when repeated or not text. Gateways set these headers exactly once; two
/// copies mean a client's copy survived next to the gateway's, and neither is believed.
pub(super) fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    first.to_str().map(|v| Some(v.trim())).map_err(|_| ())
}

/// The client's address. It is the TCP peer, unless the peer is a trusted proxy that
/// names the client in the one configured header (`X-Real-IP` by default). No other
/// header is ever read for it, and nothing a non-proxy sends is believed.
///
/// `Err` when a trusted proxy sent that header more than once or not as one address:
/// the address is then unknown, and requests that need it are refused.
pub fn client_address(
    service: &Service,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<Option<IpAddr>, Error> {
    let bad = || Error::Invalid {
        code: "invalid_header",
        field: Some(service.config.real_ip_header.clone()),
        message: "the gateway's client-address header must hold exactly one IP address".into(),
    };
    // A peer outside the trusted proxies is the client. With no peer (in-process: only the
    // embedding program can call) or a trusted one, the one header names the client; absent,
    // the client is the peer itself.
    if let Some(p) = peer
        && !address_allowed(&service.config.trusted_proxies, p)
    {
        return Ok(Some(p));
    }
    match single_header(headers, &service.config.real_ip_header) {
        Ok(Some(v)) => v.parse().map(Some).map_err(|_| bad()),
        Ok(None) => Ok(peer),
        Err(()) => Err(bad()),
    }
}

pub(super) fn bearer(headers: &HeaderMap, service: &Service) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    credential::from_authorization(value, &service.config.basic_user).map(|c| c.to_owned())
}

/// An authenticated admin caller.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let service = &state.service;
        let peer = peer(&parts.extensions);
        let client = match client_address(service, &parts.headers, peer) {
            Ok(client) => client,
            Err(e) => {
                service.verifier.throttle_failure(peer);
                return Err(e);
            }
        };
        let token = bearer(&parts.headers, service).map(zeroize::Zeroizing::new);
        let caller = service
            .authenticate(
                token.as_deref().map(String::as_str),
                parts.method.as_str(),
                parts.uri.path(),
                client,
            )
            .await?;
        Ok(Admin(caller))
    }
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.to_owned()))
            .map_err(|_| Error::Invalid {
                code: "invalid_header",
                field: Some("Idempotency-Key".into()),
                message: "Idempotency-Key must be visible ASCII".into(),
            }),
    }
}

/// `If-Match` is required on updates and deletes.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Error> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or(Error::PreconditionRequired)?;
    let text = value.to_str().map_err(|_| Error::PreconditionRequired)?;
    parse_if_match(text)
}

/// `If-Match` where it is optional (commands such as rotate and revoke).
pub(super) fn optional_if_match(headers: &HeaderMap) -> Result<Option<i64>, Error> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(_) => if_match(headers),
    }
}

pub(super) fn request_fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.path().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

pub(super) fn outcome_response(outcome: Outcome) -> Response {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::OK);
    let mut response = (status, Json(outcome.body)).into_response();
    if let Some(v) = outcome
        .etag
        .and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok())
    {
        response.headers_mut().insert(header::ETAG, v);
    }
    if outcome.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

pub(super) fn with_etag<T: serde::Serialize>(value: T, version: i64) -> Response {
    let mut response = Json(value).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// Everything a mutating handler needs from the request.
pub(super) struct Mutating {
    pub(super) idem: Option<String>,
    pub(super) fingerprint: Vec<u8>,
}

pub(super) fn mutating(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Mutating, Error> {
    Ok(Mutating {
        idem: idempotency_key(headers)?,
        fingerprint: request_fingerprint(method, uri, body),
    })
}

pub(super) type ApiResult = Result<Response, Error>;
