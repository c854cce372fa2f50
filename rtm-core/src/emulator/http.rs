//! The HTTP/1.1 side, served by hand on the emulator's listener: `rtm.connect` (and its alias
//! `rtm.start`), a minimal `auth.test`, and recognising websocket upgrades, which it answers
//! with `101` and hands to [`super::ws`].
//!
//! Requests are read with size caps (head and body) and a timeout; bodies need
//! `Content-Length` (what reqwest and the official SDKs send). Connections are kept alive
//! unless the client asks otherwise. Malformed requests get a 4xx answer and a closed
//! connection, never a crash.

use std::fmt::Write as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::debug;

use super::state::{Shared, lock};

/// Largest accepted request head (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
/// Largest accepted request body.
const MAX_BODY: usize = 64 * 1024;
/// How long a connection may stay idle (or take to send a request) before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long, and how many bytes at most, a refused request's remaining input is drained.
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1024 * 1024;
/// Where websocket URLs point.
const WS_PATH: &str = "/websocket/";

/// A websocket upgrade that the HTTP side accepted: the ticket and any bytes read past the
/// request head.
#[derive(Debug)]
pub(super) struct Upgrade {
    pub(super) ticket: String,
    pub(super) leftover: Vec<u8>,
}

/// Serves HTTP requests on one connection until it closes, or until a websocket upgrade,
/// which is returned after the `101` answer was written.
pub(super) async fn serve(shared: &Shared, tcp: &mut TcpStream) -> Option<Upgrade> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let request = match timeout(IDLE_TIMEOUT, read_request(tcp, &mut buf)).await {
            Err(_) => {
                debug!("HTTP connection idle, closing");
                return None;
            }
            Ok(Err(error)) => {
                debug!(%error, "HTTP connection ended");
                return None;
            }
            Ok(Ok(Read::Eof)) => return None,
            Ok(Ok(Read::Bad(response))) => {
                refuse(tcp, &response).await;
                return None;
            }
            Ok(Ok(Read::Request(request))) => request,
        };
        // Websocket paths carry the ticket: log the route, not the secret.
        let shown = if request.path.starts_with(WS_PATH) {
            WS_PATH
        } else {
            &request.path
        };
        debug!(method = %request.method, path = %shown, "HTTP request");
        if let Some(ticket) = request.path.strip_prefix(WS_PATH) {
            return match upgrade_response(&request) {
                Ok(response) => {
                    write_all(tcp, response.as_bytes()).await.ok()?;
                    Some(Upgrade {
                        ticket: ticket.to_owned(),
                        leftover: std::mem::take(&mut buf),
                    })
                }
                Err(response) => {
                    refuse(tcp, &response).await;
                    None
                }
            };
        }
        let keep_alive = request.keep_alive();
        let response = route(shared, &request);
        if write_all(tcp, &response.to_bytes(keep_alive)).await.is_err() || !keep_alive {
            return None;
        }
    }
}

/// Answers a bad request and closes gracefully: after our FIN, unread request bytes are
/// drained for a moment, so the kernel does not reset the connection and destroy the answer
/// before the client reads it.
async fn refuse(tcp: &mut TcpStream, response: &Response) {
    if write_all(tcp, &response.to_bytes(false)).await.is_err() {
        return;
    }
    if std::future::poll_fn(|cx| Pin::new(&mut *tcp).poll_shutdown(cx))
        .await
        .is_err()
    {
        return;
    }
    let drain = async {
        let mut sink = Vec::new();
        let mut total = 0;
        while total < LINGER_BYTES {
            sink.clear();
            match read_more(tcp, &mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = timeout(LINGER_TIME, drain).await;
}

/// One parsed request.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    query: String,
    http11: bool,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
    }

    fn keep_alive(&self) -> bool {
        if self.http11 {
            !self.header_has_token("connection", "close")
        } else {
            self.header_has_token("connection", "keep-alive")
        }
    }

    /// The token from `Authorization: Bearer`, a form or JSON body field, or the query.
    fn token(&self) -> Option<String> {
        let from_header = self.header("authorization").and_then(|auth| {
            let (scheme, token) = auth.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
        let content_type = self.header("content-type").unwrap_or("");
        let from_body = || {
            if content_type.starts_with("application/x-www-form-urlencoded") {
                form_value(&String::from_utf8_lossy(&self.body), "token")
            } else if content_type.starts_with("application/json") {
                serde_json::from_slice::<Value>(&self.body)
                    .ok()?
                    .get("token")?
                    .as_str()
                    .map(str::to_owned)
            } else {
                None
            }
        };
        from_header
            .or_else(from_body)
            .or_else(|| form_value(&self.query, "token"))
            .filter(|token| !token.is_empty())
    }
}

/// Outcome of reading one request.
#[derive(Debug)]
enum Read {
    Request(Request),
    /// The peer closed the connection between requests.
    Eof,
    /// Malformed or too large: answer this and close.
    Bad(Response),
}

/// Reads one request (head and body) from `tcp`, keeping bytes past it in `buf`.
async fn read_request(tcp: &TcpStream, buf: &mut Vec<u8>) -> io::Result<Read> {
    let head_end = loop {
        if let Some(pos) = find_head_end(buf) {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Ok(Read::Bad(Response::text(431, "request head too large")));
        }
        if read_more(tcp, buf).await? == 0 {
            return if buf.is_empty() {
                Ok(Read::Eof)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    };
    if head_end > MAX_HEAD {
        return Ok(Read::Bad(Response::text(431, "request head too large")));
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end);
    let mut request = match parse_head(&head) {
        Ok(request) => request,
        Err(why) => return Ok(Read::Bad(Response::text(400, why))),
    };
    if request.header("transfer-encoding").is_some() {
        return Ok(Read::Bad(Response::text(411, "send a Content-Length body")));
    }
    let length = match request.header("content-length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(length)) => length,
        Some(Err(_)) => return Ok(Read::Bad(Response::text(400, "bad Content-Length"))),
    };
    if length > MAX_BODY {
        return Ok(Read::Bad(Response::text(413, "request body too large")));
    }
    if length > buf.len() && request.header_has_token("expect", "100-continue") {
        write_all(tcp, b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    while buf.len() < length {
        if read_more(tcp, buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    request.body = buf.drain(..length).collect();
    Ok(Read::Request(request))
}

/// The index just past the blank line ending the head, if it has arrived.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|pos| pos + 4)
}

/// Parses a request line and headers.
fn parse_head(head: &str) -> Result<Request, &'static str> {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed request line");
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err("unsupported HTTP version"),
    };
    if method.is_empty() || !target.starts_with('/') {
        return Err("malformed request line");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("malformed header");
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        http11,
        headers,
        body: Vec::new(),
    })
}

/// The value of `key` in an `a=b&c=d` string, percent-decoded.
fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` (a space in forms); malformed escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `101 Switching Protocols` answer, or the error to send instead.
fn upgrade_response(request: &Request) -> Result<String, Response> {
    if request.method != "GET" || !request.http11 {
        return Err(Response::text(400, "websocket upgrades need GET over HTTP/1.1"));
    }
    if !request.header_has_token("upgrade", "websocket") || !request.header_has_token("connection", "upgrade")
    {
        return Err(Response::text(400, "expected a websocket upgrade"));
    }
    if request.header("sec-websocket-version") != Some("13") {
        let mut response = Response::text(426, "unsupported websocket version");
        response.extra = Some(("Sec-WebSocket-Version", "13".to_owned()));
        return Err(response);
    }
    let Some(key) = request.header("sec-websocket-key") else {
        return Err(Response::text(400, "missing Sec-WebSocket-Key"));
    };
    Ok(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    ))
}

/// Dispatches a request to a Web API method.
fn route(shared: &Shared, request: &Request) -> Response {
    if request.method != "GET" && request.method != "POST" {
        let mut response = Response::text(405, "method not allowed");
        response.extra = Some(("Allow", "GET, POST".to_owned()));
        return response;
    }
    match request.path.strip_prefix("/api/") {
        Some("rtm.connect" | "rtm.start") => rtm_connect(shared, request),
        Some("auth.test") => auth_test(shared, request),
        Some(_) => api_error("unknown_method"),
        None => Response::text(404, "not found"),
    }
}

/// `rtm.connect`: scripted faults first, then the token, then a fresh websocket URL.
fn rtm_connect(shared: &Shared, request: &Request) -> Response {
    shared.connect_calls.fetch_add(1, Ordering::SeqCst);
    let now = Instant::now();
    let mut connects = lock(&shared.connects);
    if connects.window.as_mut().is_some_and(|w| !w.try_hit(now)) {
        debug!("rtm.connect over the per-second limit");
        return rate_limited(1);
    }
    if connects.rate_limited > 0 {
        connects.rate_limited -= 1;
        return rate_limited(connects.retry_after_secs);
    }
    if let Some(code) = connects.take_failure() {
        return api_error(&code);
    }
    if let Err(code) = check_token(shared, connects.revoked, request) {
        return api_error(code);
    }
    let ticket = connects.issue_ticket(now, now + shared.config.ticket_ttl);
    drop(connects);
    let config = &shared.config;
    Response::json(
        200,
        &json!({
            "ok": true,
            "url": format!("ws://{}{WS_PATH}{ticket}", shared.addr),
            "team": {"id": config.team_id, "name": config.team_name, "domain": config.team_domain},
            "self": {"id": config.self_id, "name": config.self_name},
        }),
    )
}

/// `auth.test`: who the token belongs to.
fn auth_test(shared: &Shared, request: &Request) -> Response {
    let revoked = lock(&shared.connects).revoked;
    if let Err(code) = check_token(shared, revoked, request) {
        return api_error(code);
    }
    let config = &shared.config;
    Response::json(
        200,
        &json!({
            "ok": true,
            "url": format!("http://{}/", shared.addr),
            "team": config.team_name,
            "user": config.self_name,
            "team_id": config.team_id,
            "user_id": config.self_id,
        }),
    )
}

fn check_token(shared: &Shared, revoked: bool, request: &Request) -> Result<(), &'static str> {
    match request.token() {
        None => Err("not_authed"),
        Some(token) if token != shared.config.token => Err("invalid_auth"),
        Some(_) if revoked => Err("token_revoked"),
        Some(_) => Ok(()),
    }
}

fn api_error(code: &str) -> Response {
    Response::json(200, &json!({"ok": false, "error": code}))
}

fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = Response::json(429, &json!({"ok": false, "error": "ratelimited"}));
    response.extra = Some(("Retry-After", retry_after_secs.to_string()));
    response
}

/// A response to serialise.
#[derive(Debug)]
struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
    /// One extra header (Retry-After, Allow, Sec-WebSocket-Version).
    extra: Option<(&'static str, String)>,
}

impl Response {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string(),
            extra: None,
        }
    }

    fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
            extra: None,
        }
    }

    fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            411 => "Length Required",
            413 => "Payload Too Large",
            426 => "Upgrade Required",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            _ => "Unknown",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            self.status,
            self.content_type,
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        if let Some((name, value)) = &self.extra {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

/// Reads what is available into `buf`; `Ok(0)` at end of stream.
async fn read_more(tcp: &TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0_u8; 4096];
    loop {
        tcp.readable().await?;
        match tcp.try_read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
}

/// Writes all of `bytes`.
async fn write_all(tcp: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        tcp.writable().await?;
        match tcp.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_line_headers_and_query() {
        let request = parse_head(
            "POST /api/rtm.connect?token=a%2Bb&x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: \
             application/x-www-form-urlencoded\r\n\r\n",
        )
        .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/rtm.connect");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.token().as_deref(), Some("a+b"));
        assert!(request.keep_alive());
    }

    #[test]
    fn token_sources_in_order() {
        let mut request = parse_head(
            "POST /api/rtm.connect?token=q HTTP/1.1\r\nAuthorization: Bearer h\r\n\
             Content-Type: application/json\r\n\r\n",
        )
        .unwrap();
        request.body = br#"{"token":"j"}"#.to_vec();
        assert_eq!(request.token().as_deref(), Some("h"));
        request.headers.retain(|(n, _)| n != "authorization");
        assert_eq!(request.token().as_deref(), Some("j"));
        request.body.clear();
        assert_eq!(request.token().as_deref(), Some("q"));
        request.query = "token=".to_owned();
        assert_eq!(request.token(), None);
    }

    #[test]
    fn rejects_malformed_heads() {
        assert!(parse_head("GARBAGE\r\n\r\n").is_err());
        assert!(parse_head("GET / HTTP/2.0\r\n\r\n").is_err());
        assert!(parse_head("GET nopath HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_head("GET / HTTP/1.1\r\nno-colon\r\n\r\n").is_err());
        assert!(parse_head("").is_err());
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(
            form_value("a=1&token=xoxb%2D1", "token").as_deref(),
            Some("xoxb-1")
        );
        assert_eq!(form_value("flag&token", "token").as_deref(), Some(""));
    }

    #[test]
    fn http10_closes_by_default() {
        let request = parse_head("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!request.keep_alive());
        let request = parse_head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!request.keep_alive());
    }
}
