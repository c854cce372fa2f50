//! One connection attempt: `rtm.connect`, the websocket handshake, then `hello`, all within
//! the connect timeout. A failed attempt drops its socket, so none is ever left open.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::{net::TcpStream, time::Instant};
use tokio_tungstenite::{
    Connector, MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, protocol::WebSocketConfig},
};
use tracing::debug;

use crate::{
    ClientConfig, ConnectionInfo, Error, Event,
    event::{Frame, classify},
    state::Counters,
    web_api,
};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Largest frame accepted from Slack. Bigger frames end the connection with a read error
/// (the client then reconnects); nothing is buffered beyond this.
pub(crate) const MAX_INBOUND_FRAME: usize = 16 * 1024 * 1024;

/// Read buffer per connection.
const READ_BUFFER: usize = 16 * 1024;

/// What a dial needs; shared by the connection task and its in-flight attempts.
pub(crate) struct Dialer {
    pub(crate) config: ClientConfig,
    http: reqwest::Client,
    counters: Arc<Counters>,
    /// When the next `rtm.connect` may start (the minimum connect interval).
    next_call: Mutex<Instant>,
}

/// A connection that reached `hello`.
pub(crate) struct Connected {
    pub(crate) socket: Socket,
    pub(crate) info: ConnectionInfo,
    /// The `hello` event followed by any event a lenient server sent before it, delivered
    /// to readers like any other.
    pub(crate) first_events: Vec<Event>,
}

impl Dialer {
    pub(crate) fn new(config: ClientConfig, http: reqwest::Client, counters: Arc<Counters>) -> Self {
        Dialer {
            config,
            http,
            counters,
            next_call: Mutex::new(Instant::now()),
        }
    }

    /// One attempt, bounded by the connect timeout, and never sooner than the minimum
    /// connect interval after the previous one.
    pub(crate) async fn dial(self: Arc<Self>) -> Result<Connected, Error> {
        let start = {
            let mut next_call = self.next_call.lock().unwrap_or_else(|p| p.into_inner());
            let start = (*next_call).max(Instant::now());
            *next_call = start + self.config.min_connect_interval;
            start
        };
        tokio::time::sleep_until(start).await;
        tokio::time::timeout(self.config.connect_timeout, self.dial_inner())
            .await
            .unwrap_or(Err(Error::Timeout(
                "rtm.connect, the websocket handshake and hello",
            )))
    }

    async fn dial_inner(&self) -> Result<Connected, Error> {
        Counters::bump(&self.counters.connect_calls);
        let granted = web_api::rtm_connect(&self.http, &self.config).await?;
        // The socket URL carries a single-use ticket: log only its host.
        debug!(host = granted.url.host_str().unwrap_or(""), "opening websocket");
        let mut ws_config = WebSocketConfig::default();
        ws_config.max_message_size = Some(MAX_INBOUND_FRAME);
        ws_config.max_frame_size = Some(MAX_INBOUND_FRAME);
        // tungstenite's default 128 KiB read buffer is resident in every connection; RTM
        // frames are small, and 16 KiB keeps thousands of connections cheap.
        ws_config.read_buffer_size = READ_BUFFER;
        let connector = match granted.url.scheme() {
            "wss" => Connector::Rustls(crate::tls::client_config()),
            _ => Connector::Plain,
        };
        let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            granted.url.as_str(),
            Some(ws_config),
            true,
            Some(connector),
        )
        .await
        .map_err(|e| Error::websocket("handshake failed", Some(Arc::new(scrub(e)))))?;
        let first_events = wait_for_hello(&mut socket).await?;
        Ok(Connected {
            socket,
            info: granted.info,
            first_events,
        })
    }
}

/// Events a server may send before `hello` that are kept (Slack sends `hello` first; other
/// servers may not). Beyond this, the attempt fails rather than buffering without bound.
const MAX_EARLY_EVENTS: usize = 1024;

/// Waits for `hello`; an `error` event (e.g. expired URL) fails the attempt. Returns `hello`
/// followed by any events that came before it, so none is lost.
async fn wait_for_hello(socket: &mut Socket) -> Result<Vec<Event>, Error> {
    let mut early = Vec::new();
    loop {
        let message = match socket.next().await {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                return Err(Error::websocket(
                    "socket failed before hello",
                    Some(Arc::new(scrub(e))),
                ));
            }
            None => return Err(Error::websocket("socket closed before hello", None)),
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => return Err(Error::websocket("socket closed before hello", None)),
            _ => continue,
        };
        match classify(text) {
            Frame::Event(event) if event.kind() == "hello" => {
                early.insert(0, event);
                return Ok(early);
            }
            Frame::Event(event) if event.kind() == "error" => {
                return Err(Error::Protocol(format!(
                    "slack sent an error instead of hello: {}",
                    event.json()
                )));
            }
            Frame::Event(event) if early.len() < MAX_EARLY_EVENTS => early.push(event),
            Frame::Event(_) => return Err(Error::Protocol("too many events before hello".into())),
            _ => continue,
        }
    }
}

/// tungstenite's handshake errors can echo the request URL (which carries the ticket); keep
/// only the error's category.
fn scrub(e: tokio_tungstenite::tungstenite::Error) -> std::io::Error {
    use tokio_tungstenite::tungstenite::Error as E;
    let what = match &e {
        E::Io(io) => return std::io::Error::new(io.kind(), io.kind().to_string()),
        E::Tls(_) => "TLS error".to_owned(),
        E::Http(r) => format!("HTTP {}", r.status()),
        E::Url(_) => "invalid websocket URL".to_owned(),
        E::Capacity(c) => c.to_string(),
        E::Protocol(p) => p.to_string(),
        other => other.to_string(),
    };
    std::io::Error::other(what)
}
