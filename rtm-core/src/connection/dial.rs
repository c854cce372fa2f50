//! One connection attempt: the protocol's Web API call for a URL, the websocket handshake,
//! then `hello`, all within the connect timeout. A failed attempt drops its socket, so none is
//! ever left open.

use std::sync::{Arc, Mutex};

use futures::{FutureExt, Sink, Stream, StreamExt, future::BoxFuture};
use tokio::{net::TcpStream, time::Instant};
use tokio_tungstenite::{
    Connector as TlsConnector, MaybeTlsStream, WebSocketStream,
    tungstenite::{Error as WsError, Message, protocol::WebSocketConfig},
};
use tracing::debug;

use super::protocol::{Inbound, Protocol};
use crate::{ClientConfig, ConnectionInfo, Error, Event, state::Counters};

/// A websocket over TCP or TLS. Boxed: the stream is over a kilobyte, and the driver's
/// future, which is resident for the life of every connection, would otherwise hold a copy
/// for each of its states that moves a socket (connecting, running, replacing, closing).
pub(crate) type Socket = Box<WebSocketStream<MaybeTlsStream<TcpStream>>>;

/// What a session runs over: any websocket (a TCP one in production, an in-memory pair in
/// tests).
pub(crate) trait WsSocket:
    Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send + 'static
{
}

impl<T> WsSocket for T where
    T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send + 'static
{
}

/// Where sockets come from: the driver asks for one per attempt.
pub(crate) trait Connector: Send + Sync + 'static {
    /// The socket a successful attempt yields.
    type Socket: WsSocket;
    /// The protocol spoken on it.
    type Protocol: Protocol;

    fn protocol(&self) -> &Self::Protocol;

    /// One attempt, bounded as a whole by the connect timeout.
    fn connect(self: Arc<Self>) -> BoxFuture<'static, Result<Connected<Self::Socket>, Error>>;
}

/// Largest frame accepted from Slack. Bigger frames end the connection with a read error
/// (the client then reconnects); nothing is buffered beyond this.
pub(crate) const MAX_INBOUND_FRAME: usize = 16 * 1024 * 1024;

/// Read buffer per connection, which is also the most one read takes from the socket. Most
/// frames are far smaller. tungstenite zeroes the part it reads into before every read (every
/// poll of the socket is one), so an idle connection pays for it several times per keepalive
/// probe, in cache lines no other connection shares. With 10,000 idle connections, 2 KiB
/// instead of 8 KiB took idle CPU from 5.8 to 5.0 % of a core and memory from 22 to 18 KiB per
/// connection (medians of three runs), with no loss of throughput or latency in a burst
/// (about six typical events per read instead of twenty-four). Larger frames still arrive
/// whole, over several reads.
const READ_BUFFER: usize = 2 * 1024;

/// What a dial needs; shared by the connection task and its in-flight attempts.
pub(crate) struct Dialer<P> {
    pub(crate) config: ClientConfig,
    protocol: P,
    http: reqwest::Client,
    counters: Arc<Counters>,
    /// When the next Web API call for a URL may start (the minimum connect interval).
    next_call: Mutex<Instant>,
}

/// A connection that reached `hello`.
pub(crate) struct Connected<S> {
    pub(crate) socket: S,
    pub(crate) info: ConnectionInfo,
    /// The `hello` event followed by any event a lenient server sent before it, delivered
    /// to readers like any other.
    pub(crate) first_events: Vec<Event>,
    /// Acknowledgements owed for envelopes that came before `hello` (Socket Mode).
    pub(crate) first_acks: Vec<Message>,
}

impl<P: Protocol> Dialer<P> {
    pub(crate) fn new(
        config: ClientConfig,
        protocol: P,
        http: reqwest::Client,
        counters: Arc<Counters>,
    ) -> Self {
        Dialer {
            config,
            protocol,
            http,
            counters,
            next_call: Mutex::new(Instant::now()),
        }
    }

    async fn dial_inner(&self) -> Result<Connected<Socket>, Error> {
        Counters::bump(&self.counters.connect_calls);
        let opened = self.protocol.open(&self.http).await?;
        // The socket URL carries a single-use ticket: log only its host.
        debug!(host = opened.url.host_str().unwrap_or(""), "opening websocket");
        let mut ws_config = WebSocketConfig::default();
        ws_config.max_message_size = Some(MAX_INBOUND_FRAME);
        ws_config.max_frame_size = Some(MAX_INBOUND_FRAME);
        // tungstenite's default 128 KiB read buffer is resident in every connection; RTM
        // frames are small, and a smaller one keeps thousands of connections cheap.
        ws_config.read_buffer_size = READ_BUFFER;
        let connector = match opened.url.scheme() {
            "wss" => TlsConnector::Rustls(crate::tls::client_config()),
            _ => TlsConnector::Plain,
        };
        let (socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            opened.url.as_str(),
            Some(ws_config),
            true,
            Some(connector),
        )
        .await
        .map_err(|e| Error::websocket("handshake failed", Some(Arc::new(scrub(e)))))?;
        let mut socket = Box::new(socket);
        let (first_events, first_acks) = wait_for_hello(&self.protocol, &mut socket).await?;
        Ok(Connected {
            socket,
            info: opened.info,
            first_events,
            first_acks,
        })
    }
}

impl<P: Protocol> Connector for Dialer<P> {
    type Socket = Socket;
    type Protocol = P;

    fn protocol(&self) -> &P {
        &self.protocol
    }

    /// Never sooner than the minimum connect interval after the previous attempt.
    fn connect(self: Arc<Self>) -> BoxFuture<'static, Result<Connected<Socket>, Error>> {
        async move {
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
                    "the Web API call, the websocket handshake and hello",
                )))
        }
        .boxed()
    }
}

/// Events a server may send before `hello` that are kept (Slack sends `hello` first; other
/// servers may not). Beyond this, the attempt fails rather than buffering without bound.
const MAX_EARLY_EVENTS: usize = 1024;

/// Waits for `hello`; an `error` event (e.g. expired URL) or a fatal frame fails the attempt.
/// Returns `hello` followed by any events that came before it, so none is lost, and the
/// acknowledgements owed for envelopes among them.
pub(crate) async fn wait_for_hello<P: Protocol, S: WsSocket>(
    protocol: &P,
    socket: &mut S,
) -> Result<(Vec<Event>, Vec<Message>), Error> {
    let mut early = Vec::new();
    let mut acks = Vec::new();
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
        match protocol.classify(text) {
            Inbound::Hello(event) => {
                early.insert(0, event);
                return Ok((early, acks));
            }
            Inbound::Fatal(error) => return Err(error),
            Inbound::Ack { ack, event } if acks.len() < MAX_EARLY_EVENTS => {
                acks.push(ack);
                early.extend(event);
            }
            Inbound::Held { ack, event, .. } if acks.len() < MAX_EARLY_EVENTS => {
                acks.push(ack);
                early.push(event);
            }
            Inbound::Ack { .. } | Inbound::Held { .. } => {
                return Err(Error::Protocol("too many envelopes before hello".into()));
            }
            Inbound::Ended(_, Some(event)) | Inbound::Event(event) if event.kind() == "error" => {
                return Err(Error::Protocol(format!(
                    "slack sent an error instead of hello: {}",
                    event.json()
                )));
            }
            Inbound::Event(event) | Inbound::Retiring(event) if early.len() < MAX_EARLY_EVENTS => {
                early.push(event)
            }
            Inbound::Event(_) | Inbound::Retiring(_) => {
                return Err(Error::Protocol("too many events before hello".into()));
            }
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
