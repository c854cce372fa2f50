//! The Web API client against the bundled emulator: each helper's encoding and fields on the
//! wire, typed answers, pagination, rate limits, retries, errors, and the token kept secret.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use rtm_core::emulator::{Emulator, PostVia, WebCall, WebFault};
use rtm_core::web::{Message, Pacing, PostMessage, RetryPolicy, WebClientBuilder};
use rtm_core::{WebClient, WebError};
use rtm_tests::{CapturedLogs, WAIT, connect, emulator, read_events, within};
use serde_json::{Value, json};

const CHANNEL: &str = "C0GENERAL";

/// A client for `emu` with short backoff so retry tests stay fast.
fn builder(emu: &Emulator) -> WebClientBuilder {
    WebClient::builder(emu.token())
        .api_url(emu.api_url())
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(10)))
}

fn web(emu: &Emulator) -> WebClient {
    builder(emu).build().expect("valid client")
}

/// The calls `emu` received for `method`.
fn calls(emu: &Emulator, method: &str) -> Vec<WebCall> {
    emu.web_calls()
        .into_iter()
        .filter(|c| c.method == method)
        .collect()
}

fn last_call(emu: &Emulator, method: &str) -> WebCall {
    calls(emu, method)
        .pop()
        .unwrap_or_else(|| panic!("no {method} call"))
}

#[tokio::test]
async fn post_message_sends_json_and_returns_the_ts() {
    let emu = emulator().await;
    let web = web(&emu);
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]);
    let parent = within(
        "post",
        web.post_message(&PostMessage::new(CHANNEL, "hi").blocks(blocks.clone())),
    )
    .await
    .unwrap();
    assert_eq!(parent.channel, CHANNEL);
    let message = parent.message.clone().expect("message");
    assert_eq!(message.ts, parent.ts);
    assert_eq!(message.bot_id.as_deref(), Some("B0BOT"));
    let call = last_call(&emu, "chat.postMessage");
    assert_eq!(call.encoding, "json");
    assert_eq!(
        call.args,
        json!({"channel": CHANNEL, "text": "hi", "blocks": blocks})
    );

    let reply = PostMessage::new(CHANNEL, "in thread")
        .thread_ts(&parent.ts)
        .reply_broadcast(true);
    let posted = within("reply", web.post_message(&reply)).await.unwrap();
    let call = last_call(&emu, "chat.postMessage");
    assert_eq!(call.args["thread_ts"], parent.ts.as_str());
    assert_eq!(call.args["reply_broadcast"], true);
    assert_eq!(
        posted.message.unwrap().thread_ts.as_deref(),
        Some(parent.ts.as_str())
    );
}

#[tokio::test]
async fn every_helper_uses_its_encoding_and_gets_a_typed_answer() {
    let emu = emulator().await;
    let web = web(&emu);

    let me = within("auth.test", web.auth_test()).await.unwrap();
    assert_eq!(
        (me.user_id.as_str(), me.bot_id.as_deref()),
        (emu.self_id(), Some("B0BOT"))
    );
    assert_eq!(last_call(&emu, "auth.test").encoding, "json");

    let alice = within("users.info", web.users_info("U0ALICE")).await.unwrap();
    assert_eq!(
        (alice.id.as_str(), alice.name.as_str(), alice.is_bot),
        ("U0ALICE", "alice", false)
    );
    let call = last_call(&emu, "users.info");
    assert_eq!((call.encoding, &call.args), ("form", &json!({"user": "U0ALICE"})));

    let general = within("conversations.info", web.conversations_info(CHANNEL))
        .await
        .unwrap();
    assert_eq!(general.name.as_deref(), Some("general"));
    assert_eq!(last_call(&emu, "conversations.info").encoding, "form");

    let dm = within("conversations.open", web.conversations_open(&["U0ALICE"]))
        .await
        .unwrap();
    assert!(dm.id.starts_with('D'), "{dm:?}");
    let call = last_call(&emu, "conversations.open");
    assert_eq!(
        (call.encoding, &call.args),
        ("json", &json!({"users": "U0ALICE"}))
    );

    let posted = within("post", web.post_message(&PostMessage::new(&dm.id, "hello")))
        .await
        .unwrap();
    let changed = within("update", web.chat_update(&dm.id, &posted.ts, "edited"))
        .await
        .unwrap();
    assert_eq!(changed.ts, posted.ts);
    let call = last_call(&emu, "chat.update");
    assert_eq!(call.encoding, "json");
    assert_eq!(
        call.args,
        json!({"channel": dm.id, "ts": posted.ts, "text": "edited"})
    );

    within("react", web.reactions_add(&dm.id, &posted.ts, ":eyes:"))
        .await
        .unwrap();
    let call = last_call(&emu, "reactions.add");
    assert_eq!(call.encoding, "json");
    assert_eq!(
        call.args,
        json!({"channel": dm.id, "timestamp": posted.ts, "name": "eyes"})
    );
    let again = within("react again", web.reactions_add(&dm.id, &posted.ts, "eyes")).await;
    assert_eq!(again.unwrap_err().slack_code(), Some("already_reacted"));
    within("unreact", web.reactions_remove(&dm.id, &posted.ts, "eyes"))
        .await
        .unwrap();
    assert_eq!(last_call(&emu, "reactions.remove").encoding, "json");

    let ephemeral = within("ephemeral", web.post_ephemeral(CHANNEL, "U0BOB", "psst"))
        .await
        .unwrap();
    assert!(!ephemeral.is_empty());
    let call = last_call(&emu, "chat.postEphemeral");
    assert_eq!(call.encoding, "json");
    assert_eq!(
        call.args,
        json!({"channel": CHANNEL, "user": "U0BOB", "text": "psst"})
    );

    let deleted = within("delete", web.chat_delete(&dm.id, &posted.ts))
        .await
        .unwrap();
    assert_eq!(deleted.ts, posted.ts);
    assert_eq!(last_call(&emu, "chat.delete").encoding, "json");
    let gone = within("delete again", web.chat_delete(&dm.id, &posted.ts)).await;
    assert_eq!(gone.unwrap_err().slack_code(), Some("message_not_found"));

    let modal = json!({"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []});
    let view = within("views.open", web.views_open("1.2.trigger", &modal))
        .await
        .unwrap();
    assert!(view["id"].as_str().is_some_and(|id| id.starts_with('V')));
    let call = last_call(&emu, "views.open");
    assert_eq!((call.encoding, &call.args["view"]), ("json", &modal));
    let home = json!({"type": "home", "blocks": []});
    let view = within("views.publish", web.views_publish("U0ALICE", &home))
        .await
        .unwrap();
    assert_eq!(view["type"], "home");
    let call = last_call(&emu, "views.publish");
    assert_eq!(
        (call.encoding, &call.args["user_id"]),
        ("json", &json!("U0ALICE"))
    );

    let channels: Vec<_> = within(
        "conversations.list",
        web.conversations_list().items().try_collect(),
    )
    .await
    .unwrap();
    let names: Vec<_> = channels.iter().filter_map(|c| c.name.clone()).collect();
    assert_eq!(names, ["general", "random"]);
    let call = last_call(&emu, "conversations.list");
    assert_eq!((call.encoding, &call.args["limit"]), ("form", &json!("200")));
    let members: Vec<String> = within(
        "members",
        web.conversations_members(CHANNEL).items().try_collect(),
    )
    .await
    .unwrap();
    assert!(members.iter().any(|m| m == "U0ALICE"), "{members:?}");
    assert_eq!(last_call(&emu, "conversations.members").encoding, "form");
    let users: Vec<_> = within("users.list", web.users_list().items().try_collect())
        .await
        .unwrap();
    assert!(users.iter().any(|u| u.is_bot && u.id == emu.self_id()));
    assert_eq!(last_call(&emu, "users.list").encoding, "form");

    // The generic call reaches any method, typed or raw.
    let raw = within("call_raw", web.call_raw("users.info", &json!({"user": "U0BOB"})))
        .await
        .unwrap();
    assert_eq!(raw["user"]["name"], "bob");
}

#[tokio::test]
async fn a_post_reaches_sockets_history_threads_and_the_ledger() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let web = client.web();
    assert_eq!(web.api_url(), emu.api_url());

    let parent = within("post", web.post_message(&PostMessage::new(CHANNEL, "parent")))
        .await
        .unwrap();
    let event = read_events(&client, 1).await.remove(0);
    let event: Value = event.parse().unwrap();
    assert_eq!(event["type"], "message");
    assert_eq!(event["bot_id"], "B0BOT");
    assert_eq!(event["ts"], parent.ts.as_str());
    assert_eq!(event["channel"], CHANNEL);

    let reply = within("reply", web.reply_in_thread(CHANNEL, &parent.ts, "child"))
        .await
        .unwrap();
    within("rtm send", client.send_message(CHANNEL, "over rtm"))
        .await
        .unwrap();

    let history: Vec<Message> = within(
        "history",
        web.conversations_history(CHANNEL).items().try_collect(),
    )
    .await
    .unwrap();
    let texts: Vec<_> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["over rtm", "parent"],
        "newest first, thread replies left out"
    );
    let thread: Vec<Message> = within(
        "replies",
        web.conversations_replies(CHANNEL, &parent.ts)
            .items()
            .try_collect(),
    )
    .await
    .unwrap();
    let ts: Vec<_> = thread.iter().map(|m| m.ts.as_str()).collect();
    assert_eq!(ts, [parent.ts.as_str(), reply.ts.as_str()]);

    let posts = within("ledger", emu.wait_for_posts(3, WAIT))
        .await
        .expect("three posts");
    let via: Vec<_> = posts.iter().map(|p| (p.text.as_str(), p.via)).collect();
    assert_eq!(
        via,
        [
            ("parent", PostVia::WebApi),
            ("child", PostVia::WebApi),
            ("over rtm", PostVia::Rtm)
        ]
    );
    assert_eq!(posts[1].thread_ts.as_deref(), Some(parent.ts.as_str()));
    assert_eq!(emu.posts_in(CHANNEL).len(), 3);
    assert!(emu.posts_in("C0RANDOM").is_empty());
    assert!(emu.wait_for_posts(4, Duration::from_millis(20)).await.is_none());
}

#[tokio::test]
async fn history_paginates_lazily_across_three_pages() {
    let emu = emulator().await;
    for i in 0..25 {
        emu.message(CHANNEL, "U0ALICE", &format!("m{i}"));
    }
    let web = web(&emu);
    let pages: Vec<_> = within(
        "pages",
        web.conversations_history(CHANNEL)
            .page_size(10)
            .pages()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    let sizes: Vec<_> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    assert!(pages[2].next_cursor.is_none());
    assert_eq!(pages[0].items[0].text, "m24", "newest first");
    assert_eq!(pages[2].items[4].text, "m0");
    let sent = calls(&emu, "conversations.history");
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].args, json!({"channel": CHANNEL, "limit": "10"}));
    let cursor = pages[0].next_cursor.as_deref().unwrap();
    assert!(cursor.ends_with('='), "a Slack-like cursor: {cursor}");
    assert_eq!(
        sent[1].args["cursor"], cursor,
        "cursor round-trips through the form encoding"
    );

    // Lazy: taking the first 12 items fetches two pages, not three.
    let first: Vec<_> = within(
        "items",
        web.conversations_history(CHANNEL)
            .page_size(10)
            .items()
            .take(12)
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(first.len(), 12);
    assert_eq!(calls(&emu, "conversations.history").len(), 5);
}

#[tokio::test]
async fn a_rate_limited_method_does_not_hold_up_another() {
    let emu = emulator().await;
    let web = web(&emu);
    emu.inject_web_fault(
        "users.info",
        WebFault::RateLimited {
            retry_after_secs: 600,
        },
        1,
    );
    let blocked = tokio::spawn({
        let web = web.clone();
        async move { web.users_info("U0ALICE").await }
    });
    within("first users.info", async {
        while calls(&emu, "users.info").is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // users.info now waits out its 600 s Retry-After; other methods go straight through.
    within("auth.test", web.auth_test()).await.unwrap();
    within("conversations.info", web.conversations_info(CHANNEL))
        .await
        .unwrap();
    assert!(!blocked.is_finished(), "users.info waits for its Retry-After");
    assert_eq!(calls(&emu, "users.info").len(), 1);
    blocked.abort();
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_or_returned_with_it() {
    let emu = emulator().await;
    emu.inject_web_fault("users.info", WebFault::RateLimited { retry_after_secs: 1 }, 1);
    let user = within("users.info", web(&emu).users_info("U0BOB")).await.unwrap();
    assert_eq!(user.name, "bob");
    assert_eq!(calls(&emu, "users.info").len(), 2);

    emu.inject_web_fault("users.info", WebFault::RateLimited { retry_after_secs: 7 }, 1);
    let once = builder(&emu).retry(RetryPolicy::never()).build().unwrap();
    let err = within("users.info", once.users_info("U0BOB")).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err}");
    assert_eq!((err.http_status(), err.method()), (Some(429), Some("users.info")));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_write_is_not_resent_after_a_5xx_but_a_read_is() {
    let emu = emulator().await;
    let web = web(&emu);
    emu.inject_web_fault("chat.postMessage", WebFault::Status(502), 1);
    let err = within("post", web.post_message(&PostMessage::new(CHANNEL, "once")))
        .await
        .unwrap_err();
    assert!(matches!(err, WebError::Status { status: 502, .. }), "{err:?}");
    assert!(err.maybe_applied() && err.is_retryable());
    assert_eq!(calls(&emu, "chat.postMessage").len(), 1, "not resent");

    emu.inject_web_fault("conversations.info", WebFault::Status(503), 1);
    emu.inject_web_fault("conversations.info", WebFault::Error("internal_error".into()), 1);
    let channel = within("info", web.conversations_info(CHANNEL)).await.unwrap();
    assert_eq!(channel.id, CHANNEL);
    assert_eq!(calls(&emu, "conversations.info").len(), 3, "a read is resent");

    // Opting in resends writes too.
    let resending = builder(&emu)
        .retry(
            RetryPolicy::default()
                .resend_writes(true)
                .backoff(Duration::ZERO, Duration::ZERO),
        )
        .build()
        .unwrap();
    emu.inject_web_fault("chat.postMessage", WebFault::Error("fatal_error".into()), 1);
    within(
        "post",
        resending.post_message(&PostMessage::new(CHANNEL, "twice")),
    )
    .await
    .unwrap();
    assert_eq!(calls(&emu, "chat.postMessage").len(), 3);

    // Attempts are bounded.
    emu.inject_web_fault("users.info", WebFault::Status(500), 10);
    let err = within("users.info", web.users_info("U0BOB")).await.unwrap_err();
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(
        calls(&emu, "users.info").len(),
        RetryPolicy::DEFAULT_MAX_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn slack_errors_are_typed_and_final() {
    let emu = emulator().await;
    let web = web(&emu);
    emu.inject_web_fault(
        "chat.postMessage",
        WebFault::MissingScope {
            needed: "chat:write".into(),
            provided: "channels:read".into(),
        },
        1,
    );
    let err = within("post", web.post_message(&PostMessage::new(CHANNEL, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.slack_code(), Some("missing_scope"));
    assert_eq!(err.needed_scopes(), Some("chat:write"));
    assert_eq!(err.provided_scopes(), Some("channels:read"));
    assert!(!err.is_retryable());

    let err = within("post", web.post_message(&PostMessage::new("C0NOPE", "x")))
        .await
        .unwrap_err();
    assert_eq!(err.slack_code(), Some("channel_not_found"));
    let err = within("users.info", web.users_info("U0NOBODY"))
        .await
        .unwrap_err();
    assert_eq!(err.slack_code(), Some("user_not_found"));

    let wrong = WebClient::builder("xoxb-wrong")
        .api_url(emu.api_url())
        .build()
        .unwrap();
    let before = calls(&emu, "auth.test").len();
    let err = within("auth.test", wrong.auth_test()).await.unwrap_err();
    assert_eq!(err.slack_code(), Some("invalid_auth"));
    assert!(!err.is_retryable());
    assert_eq!(
        calls(&emu, "auth.test").len(),
        before + 1,
        "fatal auth errors are not retried"
    );
}

#[tokio::test]
async fn the_token_is_in_no_debug_log_or_error() {
    const SECRET: &str = "SECRETSECRET";
    let token = format!("xoxb-1234-{SECRET}");
    let (captured, _guard) = CapturedLogs::install(tracing::Level::TRACE);

    let emu = Emulator::builder().token(&token).start().await.unwrap();
    let builder = WebClient::builder(token.as_str())
        .api_url(emu.api_url())
        .pacing(Pacing::none())
        .retry(RetryPolicy::never());
    let mut shown = vec![format!("{builder:?}")];
    let web = builder.build().unwrap();
    shown.push(format!("{web:?}"));
    let config = rtm_core::ClientConfig::builder(token.as_str())
        .api_url(emu.api_url())
        .build()
        .unwrap();
    shown.push(format!("{config:?}"));
    shown.push(format!("{:?}", WebClient::from_config(&config).unwrap()));

    emu.inject_web_fault("auth.test", WebFault::RateLimited { retry_after_secs: 1 }, 1);
    emu.inject_web_fault("users.info", WebFault::Status(502), 1);
    emu.inject_web_fault("conversations.info", WebFault::Error("invalid_auth".into()), 1);
    emu.inject_web_fault("users.list", WebFault::Error("internal_error".into()), 1);
    let mut errors: Vec<WebError> = vec![
        web.auth_test().await.unwrap_err(),
        web.users_info("U0ALICE").await.unwrap_err(),
        web.conversations_info(CHANNEL).await.unwrap_err(),
        web.users_list()
            .items()
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err(),
        web.call::<Value>("users.info", &5).await.unwrap_err(),
        web.call::<Vec<u8>>("auth.test", &()).await.unwrap_err(),
        WebClient::builder("").build().unwrap_err(),
    ];
    let closed = {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/", addr.local_addr().unwrap());
        drop(addr);
        WebClient::builder(token.as_str())
            .api_url(url)
            .retry(RetryPolicy::never())
            .build()
            .unwrap()
    };
    errors.push(within("closed port", closed.auth_test()).await.unwrap_err());
    let kinds: Vec<_> = errors
        .iter()
        .map(|e| format!("{e:?}").split([' ', '{', '(']).next().unwrap().to_owned())
        .collect();
    for kind in [
        "Slack",
        "RateLimited",
        "Status",
        "Transport",
        "Decode",
        "InvalidArguments",
        "Config",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} error in {kinds:?}");
    }
    for error in &errors {
        shown.push(format!("{error} {error:?}"));
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            shown.push(format!("{inner} {inner:?}"));
            source = inner.source();
        }
    }
    for text in &shown {
        assert!(!text.contains(SECRET), "token leaked: {text}");
    }
    let logs = captured.text();
    assert!(logs.contains("web api call"), "logs were captured: {logs}");
    assert!(!logs.contains(SECRET), "token leaked into logs");
}

/// A dispatcher handler reaches the Web API through its context (`ctx.web()`), with the
/// client's own token, and reacts in the event's channel.
#[tokio::test]
async fn handlers_call_the_web_api_through_their_context() {
    use rtm_core::{BoxError, Context, Route, RtmDispatcher, events::Message as MessageEvent};

    async fn react(ctx: Context, message: MessageEvent) -> Result<(), BoxError> {
        let channel = ctx.channel().unwrap_or_default().to_owned();
        ctx.web().reactions_add(&channel, &message.ts, "eyes").await?;
        Ok(())
    }

    let emu = emulator().await;
    let client = connect(&emu).await;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let dispatcher = RtmDispatcher::new(client.clone())
        .on(Route::new("message"), react)
        .on_error({
            let failures = failures.clone();
            move |error| failures.lock().unwrap().push(error.to_string())
        });
    let running = tokio::spawn(dispatcher.run());
    let pushed = emu.message(CHANNEL, "U0HUMAN", "react to me");
    within("reactions.add", async {
        while calls(&emu, "reactions.add").is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let call = last_call(&emu, "reactions.add");
    assert_eq!(call.args["channel"], CHANNEL);
    assert_eq!(call.args["timestamp"], pushed["ts"]);
    assert_eq!(call.args["name"], "eyes");
    client.disconnect().await;
    assert!(failures.lock().unwrap().is_empty(), "{failures:?}");
    within("dispatcher stops", running).await.unwrap().unwrap();
}

/// A handler that uses the Web API is unit-testable: the test context takes a Web API client
/// (here pointed at the emulator), and a context without one says so instead of calling out.
#[tokio::test]
async fn a_test_context_can_carry_a_web_client() {
    use rtm_core::{Event, TestContext};

    let emu = emulator().await;
    let pushed = emu.message(CHANNEL, "U0HUMAN", "hi");
    let event = Event::from_json(pushed.to_string()).unwrap();
    let bare = TestContext::new(event.clone());
    assert!(bare.context().try_web().is_none());
    let test = TestContext::new(event).web_client(web(&emu));
    let ctx = test.context();
    let ts = pushed["ts"].as_str().unwrap();
    ctx.web()
        .reactions_add(CHANNEL, ts, "eyes")
        .await
        .expect("reaction added");
    assert_eq!(last_call(&emu, "reactions.add").args["name"], "eyes");
}

/// A keep-alive HTTP server on 127.0.0.1 that answers every call with a `chat.postMessage`
/// success after `hold`, counting the requests it holds at once (the most, and in all).
async fn slow_server(hold: Duration) -> (String, Arc<Mutex<(usize, usize, usize)>>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/", listener.local_addr().unwrap());
    // (held now, most held at once, answered)
    let counts = Arc::new(Mutex::new((0, 0, 0)));
    let shared = counts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counts = shared.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    {
                        let mut c = counts.lock().unwrap();
                        c.0 += 1;
                        c.1 = c.1.max(c.0);
                    }
                    tokio::time::sleep(hold).await;
                    counts.lock().unwrap().0 -= 1;
                    let answer = r#"{"ok":true,"channel":"C1","ts":"1700000000.000100"}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if stream.get_mut().write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                    counts.lock().unwrap().2 += 1;
                }
            });
        }
    });
    (url, counts)
}

#[tokio::test]
async fn a_burst_of_posts_keeps_at_most_max_in_flight_requests_on_the_wire() {
    let (url, counts) = slow_server(Duration::from_millis(50)).await;
    let web = WebClient::builder("xoxb-test")
        .api_url(url)
        .pacing(Pacing::none())
        .max_in_flight(3)
        .build()
        .unwrap();
    assert_eq!(web.max_in_flight(), 3);
    let posts = (0..12).map(|n| {
        let web = web.clone();
        tokio::spawn(async move { web.post_message(&PostMessage::new(format!("C{n}"), "hi")).await })
    });
    let posted = within("12 posts", futures::future::join_all(posts)).await;
    for post in posted {
        assert_eq!(post.unwrap().unwrap().ts, "1700000000.000100");
    }
    let (held, most, answered) = *counts.lock().unwrap();
    assert_eq!((held, answered), (0, 12));
    assert_eq!(
        most, 3,
        "at most 3 requests on the wire at once, and the 3 were used"
    );
}
