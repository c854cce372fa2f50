//! RTM workspaces shared by several gateways: each workspace's token is used by exactly one
//! gateway at a time, under a lease in a JetStream key-value bucket (create if absent, renew,
//! expire). When a gateway dies its leases expire and another gateway connects instead.

use std::{collections::HashMap, fmt, time::Duration};

use async_nats::jetstream::kv;
use bytes::Bytes;
use rtm_core::{ClientConfig, RtmClient};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::{Gateway, JetStreamError, error::setup};

/// The key-value bucket holding the leases.
pub const LEASE_BUCKET: &str = "rtm_gateway_leases";

/// One RTM workspace a fleet of gateways serves: a stable key (e.g. the team id or your own
/// name for the workspace) and the client configuration with its token.
#[derive(Clone)]
pub struct Workspace {
    key: String,
    config: ClientConfig,
}

impl Workspace {
    /// A workspace under `key` (letters, digits, `-`, `_`; the same key on every gateway).
    pub fn new(key: impl Into<String>, config: ClientConfig) -> Workspace {
        Workspace {
            key: key.into(),
            config,
        }
    }
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config (and its token) stays out.
        f.debug_struct("Workspace")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A workspace this gateway holds.
struct Held {
    revision: u64,
    client: RtmClient,
    task: JoinHandle<Result<(), JetStreamError>>,
}

impl Gateway {
    /// Serves every workspace of `workspaces` that no other gateway holds, and takes over
    /// those whose gateway stops renewing its lease. Run the same call, with the same list,
    /// on every gateway machine. `lease` bounds how long a workspace stays without a
    /// gateway after its gateway died (leases are renewed every third of it); the first
    /// gateway to create the lease bucket sets it for all.
    ///
    /// Runs until dropped; dropping it stops the clients (their leases then expire).
    ///
    /// # Errors
    /// [`JetStreamError::Setup`] when the lease bucket cannot be created.
    pub async fn run_rtm_leased(
        &self,
        workspaces: Vec<Workspace>,
        lease: Duration,
    ) -> Result<(), JetStreamError> {
        let leases = self.lease_bucket(lease).await?;
        let me = Bytes::from(format!("{}-{}", gateway_host(), std::process::id()));
        let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut held_guard = HeldGuard(HashMap::new());
        loop {
            tick.tick().await;
            for workspace in &workspaces {
                let key = &workspace.key;
                if let Some(current) = held_guard.0.get_mut(key) {
                    if current.task.is_finished() {
                        let current = held_guard.0.remove(key).expect("present");
                        match current.task.await {
                            Ok(Err(error)) => {
                                warn!(workspace = %key, %error, "workspace stopped; releasing it")
                            }
                            _ => info!(workspace = %key, "workspace closed; releasing it"),
                        }
                        let _ = leases.delete_expect_revision(key, Some(current.revision)).await;
                        continue;
                    }
                    match leases.update(key, me.clone(), current.revision).await {
                        Ok(revision) => current.revision = revision,
                        Err(error) => {
                            warn!(workspace = %key, %error, "lost the lease; disconnecting");
                            let lost = held_guard.0.remove(key).expect("present");
                            lost.client.disconnect().await;
                            lost.task.abort();
                        }
                    }
                    continue;
                }
                let Ok(revision) = leases.create(key, me.clone()).await else {
                    continue; // another gateway holds it
                };
                info!(workspace = %key, "took the lease; connecting");
                match RtmClient::connect(workspace.config.clone()).await {
                    Ok(client) => {
                        let gateway = self.clone();
                        let runner = client.clone();
                        let task = tokio::spawn(async move { gateway.run_rtm(&runner).await });
                        held_guard.0.insert(
                            key.clone(),
                            Held {
                                revision,
                                client,
                                task,
                            },
                        );
                    }
                    Err(error) => {
                        warn!(workspace = %key, %error, "cannot connect; releasing the lease");
                        let _ = leases.delete_expect_revision(key, Some(revision)).await;
                    }
                }
            }
        }
    }

    async fn lease_bucket(&self, lease: Duration) -> Result<kv::Store, JetStreamError> {
        if let Ok(store) = self.js.get_key_value(LEASE_BUCKET).await {
            return Ok(store);
        }
        self.js
            .create_key_value(kv::Config {
                bucket: LEASE_BUCKET.into(),
                history: 1,
                max_age: lease,
                ..Default::default()
            })
            .await
            .map_err(setup)
    }
}

/// Stops the clients of the workspaces held when the loop is dropped.
struct HeldGuard(HashMap<String, Held>);

impl Drop for HeldGuard {
    fn drop(&mut self) {
        for (_, held) in self.0.drain() {
            held.task.abort();
            let client = held.client;
            tokio::spawn(async move { client.disconnect().await });
        }
    }
}

fn gateway_host() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "gateway".into())
}
