//! The listener: accepts TCP connections until the emulator stops and gives each its own
//! task, which serves HTTP and, after an upgrade, hands over to the websocket session.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{Instrument, debug, debug_span};

use super::http;
use super::state::Shared;

/// Accepts connections until [`Shared::stop`].
pub(super) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stopped| *stopped) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let span = debug_span!("emulator_connection", %peer);
                tokio::spawn(connection(Arc::clone(&shared), tcp).instrument(span));
            }
            Err(error) => {
                // Usually out of file descriptors: wait a little instead of spinning.
                debug!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    debug!("emulator listener stopped");
}

/// Serves one connection: HTTP until it closes or upgrades (the websocket session then runs
/// in a task of its own).
async fn connection(shared: Arc<Shared>, tcp: TcpStream) {
    http::serve(shared, tcp).await;
}
