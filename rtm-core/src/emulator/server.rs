//! The listener: accepts TCP connections until the emulator stops and gives each its own
//! task, which serves HTTP and, after an upgrade, the websocket session.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{Instrument, debug, debug_span};

use super::state::Shared;
use super::{http, ws};

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

/// Serves one connection: HTTP until it closes or upgrades, then the websocket session.
async fn connection(shared: Arc<Shared>, mut tcp: TcpStream) {
    let mut shutdown = shared.shutdown.subscribe();
    let upgrade = tokio::select! {
        biased;
        _ = shutdown.wait_for(|stopped| *stopped) => None,
        upgrade = http::serve(&shared, &mut tcp) => upgrade,
    };
    drop(shutdown);
    if let Some(upgrade) = upgrade {
        ws::run_session(shared, tcp, upgrade.leftover, &upgrade.ticket).await;
    }
}
