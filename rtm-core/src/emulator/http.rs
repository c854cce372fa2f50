//! The HTTP/1.1 side of the emulator's listener, served by hyper: Web API requests are read
//! (with a cap on head and body size), turned into a [`Request`] and answered by
//! [`super::api`]; websocket upgrades on `/websocket/<ticket>` are answered with `101` and the
//! raw connection is handed to [`super::ws`].
//!
//! hyper does the parsing, keep-alive, pipelining and error answers (`400` for a malformed
//! request, `431` for a head over [`MAX_HEAD`]); this module only decides what to answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::{Instrument, Span, debug};

use super::state::Shared;
use super::{api, socket_mode, ws};

/// Largest accepted request head (request line and headers); hyper answers `431` above it.
/// hyper's smallest allowed read buffer is 8 KiB, so this is also its buffer size.
const MAX_HEAD: usize = 16 * 1024;
/// Largest accepted request body; larger ones get `413`.
const MAX_BODY: usize = 64 * 1024;
/// How long a connection may take to send a request head (or stay idle between requests).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Where websocket URLs point.
const WS_PATH: &str = "/websocket/";
/// How long, and how many bytes at most, a closed connection's remaining input is drained.
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1024 * 1024;

/// A connection that closes gracefully: when hyper is done with it (after answering a request
/// it refused, say), what the client is still sending is read and discarded for a moment
/// before the socket closes. Closing with unread input makes the kernel reset the connection,
/// and a reset can destroy the answer before the client reads it.
struct Lingering(Option<TcpStream>);

impl Lingering {
    fn tcp(&mut self) -> std::io::Result<&mut TcpStream> {
        self.0
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(mut tcp) = self.0.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = tcp.shutdown().await;
            let mut sink = [0u8; 8192];
            let mut drained = 0;
            let _ = tokio::time::timeout(LINGER_TIME, async {
                while drained < LINGER_BYTES {
                    match tcp.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => drained += n,
                    }
                }
            })
            .await;
        });
    }
}

impl tokio::io::AsyncRead for Lingering {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let tcp = self.tcp()?;
        std::pin::Pin::new(tcp).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Lingering {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let tcp = self.tcp()?;
        std::pin::Pin::new(tcp).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let tcp = self.tcp()?;
        std::pin::Pin::new(tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let tcp = self.tcp()?;
        std::pin::Pin::new(tcp).poll_shutdown(cx)
    }
}

/// Serves HTTP on one connection until it closes, the emulator stops, or it is upgraded to a
/// websocket (whose session then runs in its own task).
pub(super) async fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    let mut shutdown = shared.shutdown.subscribe();
    let service = {
        let shared = Arc::clone(&shared);
        service_fn(move |request| {
            let shared = Arc::clone(&shared);
            async move { Ok::<_, Infallible>(handle(shared, request).await) }
        })
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(IDLE_TIMEOUT)
        // A client may shut down its side right after the request (as `curl`-like tools and
        // the tests do); the answer must still be written.
        .half_close(true)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(Lingering(Some(tcp))), service)
        .with_upgrades();
    tokio::select! {
        biased;
        _ = shutdown.wait_for(|stopped| *stopped) => {}
        result = connection => {
            if let Err(error) = result {
                debug!(%error, "HTTP connection ended");
            }
        }
    }
}

/// Answers one request.
async fn handle(shared: Arc<Shared>, mut request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    // Websocket paths carry the ticket: log the route, not the secret.
    let shown = if path.starts_with(WS_PATH) { WS_PATH } else { &path };
    debug!(method = %request.method(), path = %shown, "HTTP request");
    let socket = if let Some(ticket) = path.strip_prefix(WS_PATH) {
        Some((false, ticket.to_owned()))
    } else if path == socket_mode::LINK_PATH || path == "/link" {
        Some((true, socket_mode::ticket_of(request.uri().query().unwrap_or(""))))
    } else {
        None
    };
    if let Some((is_socket_mode, ticket)) = socket {
        let debug_reconnects =
            is_socket_mode && socket_mode::debug_reconnects_of(request.uri().query().unwrap_or(""));
        let admitted = upgrade_response(&request).and_then(|response| {
            if is_socket_mode {
                socket_mode::admit(&shared, &ticket)?;
            }
            Ok(response)
        });
        return match admitted {
            Ok(response) => {
                let on_upgrade = hyper::upgrade::on(&mut request);
                let session = async move {
                    match on_upgrade.await {
                        Ok(upgraded) => match upgraded.downcast::<TokioIo<Lingering>>() {
                            Ok(parts) => {
                                let Some(tcp) = parts.io.into_inner().0.take() else {
                                    return;
                                };
                                let leftover = parts.read_buf.to_vec();
                                if is_socket_mode {
                                    socket_mode::run_session(shared, tcp, leftover, debug_reconnects).await;
                                } else {
                                    ws::run_session(shared, tcp, leftover, &ticket).await;
                                }
                            }
                            Err(_) => debug!("upgraded connection is not a TCP stream"),
                        },
                        Err(error) => debug!(%error, "websocket upgrade failed"),
                    }
                };
                tokio::spawn(session.instrument(Span::current()));
                response
            }
            Err(response) => response.into_hyper(false),
        };
    }
    if request.method() != Method::GET && request.method() != Method::POST {
        let mut response = Response::text(405, "method not allowed");
        response.extra = Some(("Allow", "GET, POST".to_owned()));
        return response.into_hyper(true);
    }
    let too_long = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY as u64);
    if too_long {
        return Response::text(413, "request body too large").into_hyper(false);
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            debug!(%error, "cannot read request body");
            return Response::text(413, "request body too large").into_hyper(false);
        }
    };
    let request = Request {
        is_post: parts.method == Method::POST,
        path,
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
    };
    api::route(&shared, &request).into_hyper(true)
}

/// The `101 Switching Protocols` answer, or the error to send instead.
fn upgrade_response(request: &hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Response> {
    if request.method() != Method::GET || request.version() != Version::HTTP_11 {
        return Err(Response::text(400, "websocket upgrades need GET over HTTP/1.1"));
    }
    let headers = request.headers();
    if !header_has_token(headers, header::UPGRADE, "websocket")
        || !header_has_token(headers, header::CONNECTION, "upgrade")
    {
        return Err(Response::text(400, "expected a websocket upgrade"));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut response = Response::text(426, "unsupported websocket version");
        response.extra = Some(("Sec-WebSocket-Version", "13".to_owned()));
        return Err(response);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(Response::text(400, "missing Sec-WebSocket-Key"));
    };
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok(response)
}

/// Whether a comma-separated header contains `token` (case-insensitive).
fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
    })
}

/// How a request carried its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// No body: arguments (if any) in the query string.
    Query,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json`.
    Json,
    /// A body of some other type.
    Other,
}

impl Encoding {
    /// The name recorded for tests: `query`, `form`, `json`, `other`.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Encoding::Query => "query",
            Encoding::Form => "form",
            Encoding::Json => "json",
            Encoding::Other => "other",
        }
    }
}

/// One Web API request, with its body read.
#[derive(Debug)]
pub(super) struct Request {
    /// Whether the request is a `POST` (`apps.connections.open` requires it).
    pub(super) is_post: bool,
    pub(super) path: String,
    pub(super) query: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// How the arguments were sent, from `Content-Type` and the body.
    pub(super) fn encoding(&self) -> Encoding {
        let content_type = self.header("content-type").unwrap_or("");
        if content_type.starts_with("application/x-www-form-urlencoded") {
            Encoding::Form
        } else if content_type.starts_with("application/json") {
            Encoding::Json
        } else if self.body.is_empty() {
            Encoding::Query
        } else {
            Encoding::Other
        }
    }

    /// The token from `Authorization: Bearer`, a form or JSON body field, or the query.
    pub(super) fn token(&self) -> Option<String> {
        let from_header = self.header("authorization").and_then(|auth| {
            let (scheme, token) = auth.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
        let from_body = || match self.encoding() {
            Encoding::Form => form_value(&self.body, "token"),
            Encoding::Json => serde_json::from_slice::<Value>(&self.body)
                .ok()?
                .get("token")?
                .as_str()
                .map(str::to_owned),
            Encoding::Query | Encoding::Other => None,
        };
        from_header
            .or_else(from_body)
            .or_else(|| form_value(self.query.as_bytes(), "token"))
            .filter(|token| !token.is_empty())
    }
}

/// The value of `key` in an `a=b&c=d` form, decoded.
pub(super) fn form_value(form: &[u8], key: &str) -> Option<String> {
    form_urlencoded::parse(form).find_map(|(k, v)| (k == key).then(|| v.into_owned()))
}

/// A response to send.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) status: u16,
    content_type: &'static str,
    body: String,
    /// One extra header (Retry-After, Allow, Sec-WebSocket-Version).
    pub(super) extra: Option<(&'static str, String)>,
}

impl Response {
    pub(super) fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string(),
            extra: None,
        }
    }

    pub(super) fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
            extra: None,
        }
    }

    /// An HTML body, as proxies send with a 5xx.
    pub(super) fn html(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.to_owned(),
            extra: None,
        }
    }

    fn into_hyper(self, keep_alive: bool) -> hyper::Response<Full<Bytes>> {
        let mut response = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if !keep_alive {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some((name, value)) = self.extra
            && let Ok(value) = HeaderValue::from_str(&value)
        {
            headers.insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, headers: &[(&'static str, &str)], body: &[u8]) -> Request {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Request {
            is_post: false,
            path: "/api/rtm.connect".to_owned(),
            query: query.to_owned(),
            headers: map,
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn token_sources_in_order() {
        let json = ("content-type", "application/json");
        let r = request(
            "token=q",
            &[("authorization", "Bearer h"), json],
            br#"{"token":"j"}"#,
        );
        assert_eq!(r.token().as_deref(), Some("h"));
        let r = request("token=q", &[json], br#"{"token":"j"}"#);
        assert_eq!(r.token().as_deref(), Some("j"));
        assert_eq!(r.encoding(), Encoding::Json);
        let r = request("token=q", &[json], b"");
        assert_eq!(r.token().as_deref(), Some("q"));
        let r = request("token=", &[], b"");
        assert_eq!(r.token(), None);
        assert_eq!(r.encoding(), Encoding::Query);
        let form = ("content-type", "application/x-www-form-urlencoded");
        let r = request("", &[form], b"a=1&token=xoxb%2D1+x");
        assert_eq!(r.token().as_deref(), Some("xoxb-1 x"));
        assert_eq!(r.encoding(), Encoding::Form);
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(form_value(b"a=1&token=a%2Bb", "token").as_deref(), Some("a+b"));
        assert_eq!(form_value(b"flag&token", "token").as_deref(), Some(""));
        assert_eq!(form_value(b"100%", "100%").as_deref(), Some(""));
    }
}
