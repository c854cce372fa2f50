//! Many connections of one process losing their sockets at once (a network blip under a
//! multi-workspace bot): their reconnects are spread by the process-wide pace instead of
//! storming `rtm.connect`. Its own test binary, because the pace is process-wide.

use std::time::{Duration, Instant};

use rtm_core::{ClientConfig, RtmClient};
use rtm_tests::{emulator, within};

/// The documented pace: 100 reconnects per second after a burst of 20.
const PER_SEC: usize = 100;
const BURST: usize = 20;
const CLIENTS: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_clients_dropped_at_once_reconnect_at_the_process_pace() {
    let emu = emulator().await;
    let config = || {
        ClientConfig::builder(emu.token())
            .api_url(emu.api_url())
            .min_connect_interval(Duration::ZERO)
            .keepalive_timeout(Duration::from_secs(30))
            .keepalive_interval(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        clients.push(RtmClient::connect(config()).await.unwrap());
    }
    assert_eq!(emu.connect_calls(), CLIENTS);

    // Sample the rtm.connect count every few milliseconds while they come back.
    let dropped = Instant::now();
    emu.drop_connections();
    let samples = within("all back", async {
        let mut samples = vec![(Duration::ZERO, 0usize)];
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            // Counted by the clients as each attempt starts (not when the emulator sees it,
            // an HTTP round trip later).
            let calls = clients
                .iter()
                .map(|c| c.stats().connect_calls as usize)
                .sum::<usize>()
                - CLIENTS;
            samples.push((dropped.elapsed(), calls));
            if calls >= CLIENTS && clients.iter().all(|c| c.state().borrow().is_connected()) {
                return samples;
            }
        }
    })
    .await;
    let back_after = dropped.elapsed();

    // In any window of one second, at most the burst plus one second's worth, with a 20 %
    // margin: attempts start when their paced sleep ends, and on a loaded machine a late
    // timer moves a few of them into the next window. Without the pace, all 500 land in the
    // first window; the total time below checks the average rate.
    for (i, &(start, before)) in samples.iter().enumerate() {
        for &(end, after) in &samples[i..] {
            if end - start <= Duration::from_secs(1) {
                assert!(
                    after - before <= BURST + PER_SEC + PER_SEC / 5,
                    "{} rtm.connect calls between {start:?} and {end:?}",
                    after - before
                );
            }
        }
    }
    // All back within the time the pace implies (480 paced attempts at 100/s = 4.8 s), plus
    // a margin for the machine.
    let implied = Duration::from_millis(((CLIENTS - BURST) * 1000 / PER_SEC) as u64);
    assert!(
        back_after < implied + Duration::from_secs(3),
        "all back after {back_after:?}"
    );
    assert!(
        back_after >= implied - Duration::from_millis(200),
        "faster than the pace allows: {back_after:?}"
    );
    for client in &clients {
        assert_eq!(client.stats().reconnects, 1);
    }
}
