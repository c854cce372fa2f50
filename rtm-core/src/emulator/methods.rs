//! The Web API methods a bot uses most (§11.6), served from the emulator's [`Workspace`]:
//! a posted message gets a `ts`, is stored, and is pushed as a `message` event (with the
//! bot's `bot_id`) to every open socket; reads paginate with cursors.

use serde_json::{Map, Value, json};

use super::api::api_error;
use super::http::Response;
use super::state::{Shared, lock};
use super::workspace::{DEFAULT_BOT_ID, Post, PostVia, Workspace};
use tokio_tungstenite::tungstenite::Message;

/// `limit` when a paginated call gives none (Slack's documented default for history).
const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` honoured.
const MAX_LIMIT: usize = 1000;

/// One call's arguments.
pub(super) struct Args<'a>(pub(super) &'a Map<String, Value>);

impl Args<'_> {
    /// A scalar argument as text (JSON numbers and booleans too); `None` when absent or empty.
    fn get(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A JSON argument (`blocks`, `view`): an object or array, or a JSON string in a form.
    fn json(&self, key: &str) -> Option<Value> {
        match self.0.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            Value::Null => None,
            other => Some(other.clone()),
        }
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key).as_deref(), Some("true" | "1"))
    }
}

fn ok(mut fields: Value) -> Response {
    if let Some(map) = fields.as_object_mut() {
        map.insert("ok".to_owned(), Value::Bool(true));
    }
    Response::json(200, &fields)
}

/// Dispatches a Web API method other than `rtm.connect`; `None` for an unknown method.
pub(super) fn dispatch(shared: &Shared, method: &str, args: &Args<'_>) -> Option<Response> {
    Some(match method {
        "chat.postMessage" => post_message(shared, args),
        "chat.update" => update(shared, args),
        "chat.delete" => delete(shared, args),
        "chat.postEphemeral" => post_ephemeral(shared, args),
        "reactions.add" => reaction(shared, args, true),
        "reactions.remove" => reaction(shared, args, false),
        "users.info" => users_info(shared, args),
        "users.list" => users_list(shared, args),
        "conversations.info" => conversations_info(shared, args),
        "conversations.open" => conversations_open(shared, args),
        "conversations.history" => history(shared, args),
        "conversations.replies" => replies(shared, args),
        "conversations.list" => conversations_list(shared, args),
        "conversations.members" => members(shared, args),
        "views.open" => views(shared, args, "trigger_id"),
        "views.publish" => views(shared, args, "user_id"),
        _ => return None,
    })
}

/// `chat.postMessage` with the bot's token: a `U…` channel posts to that user's DM.
fn post_message(shared: &Shared, args: &Args<'_>) -> Response {
    let bot = Poster {
        user: &shared.config.self_id,
        bot_id: Some(DEFAULT_BOT_ID),
        is_self: true,
    };
    post_message_as(shared, args, &bot)
}

/// Who a `chat.postMessage` posts as.
pub(super) struct Poster<'a> {
    pub(super) user: &'a str,
    pub(super) bot_id: Option<&'a str>,
    /// The emulated bot itself: its posts go to the posts ledger.
    pub(super) is_self: bool,
}

/// `chat.postMessage` as `poster`. Every post is stored in the channel's history and
/// delivered like Slack does: a `message` event on RTM sockets and an `events_api` envelope
/// to Socket Mode apps. Only the bot's own posts go to the posts ledger.
pub(super) fn post_message_as(shared: &Shared, args: &Args<'_>, poster: &Poster<'_>) -> Response {
    let Some(mut channel) = args.get("channel") else {
        return api_error("channel_not_found");
    };
    let text = args.get("text").unwrap_or_default();
    let blocks = args.json("blocks");
    if text.is_empty() && blocks.is_none() {
        return api_error("no_text");
    }
    let thread_ts = args.get("thread_ts");
    let config = &shared.config;
    let ts = shared.next_ts();
    let mut message = json!({
        "type": "message", "user": poster.user, "text": text, "ts": ts, "team": config.team_id,
    });
    if let (Some(bot_id), Some(map)) = (poster.bot_id, message.as_object_mut()) {
        map.insert("bot_id".to_owned(), Value::from(bot_id));
    }
    {
        let mut workspace = lock(&shared.workspace);
        if channel.starts_with('U') || channel.starts_with('W') {
            if !workspace.users.contains_key(&channel) {
                return api_error("channel_not_found");
            }
            channel = open_dm(&mut workspace, &channel);
        }
        if !workspace.has_channel(&channel) {
            return api_error("channel_not_found");
        }
    }
    if let Some(map) = message.as_object_mut() {
        if let Some(blocks) = blocks {
            map.insert("blocks".to_owned(), blocks);
        }
        if let Some(thread_ts) = &thread_ts {
            map.insert("thread_ts".to_owned(), Value::from(thread_ts.as_str()));
            if args.flag("reply_broadcast") {
                map.insert("reply_broadcast".to_owned(), Value::Bool(true));
            }
        }
        if let Some(metadata) = args.json("metadata") {
            map.insert("metadata".to_owned(), metadata);
        }
    }
    let mut event = message.clone();
    if let Some(map) = event.as_object_mut() {
        map.insert("channel".to_owned(), Value::from(channel.as_str()));
        map.insert("event_ts".to_owned(), Value::from(ts.as_str()));
    }
    let post = Post {
        channel: channel.clone(),
        ts: ts.clone(),
        text,
        thread_ts,
        via: PostVia::WebApi,
    };
    if poster.is_self {
        shared.record_post(post, message.clone());
    } else {
        lock(&shared.workspace).store(&post.channel, message.clone());
    }
    shared.push(&Message::Text(event.to_string().into()));
    super::socket_mode::on_message_event(shared, &event);
    ok(json!({"channel": channel, "ts": ts, "message": message}))
}

/// The DM channel id with a user, registering it.
fn open_dm(workspace: &mut Workspace, user: &str) -> String {
    let id = format!("D{}", &user[1..]);
    workspace.channels.entry(id.clone()).or_insert_with(|| {
        json!({"id": id, "is_im": true, "is_channel": false, "is_private": true, "user": user,
               "is_member": true})
    });
    id
}

/// Finds a message by `ts`; the error code when it is missing.
fn find<'w>(workspace: &'w mut Workspace, channel: &str, ts: &str) -> Result<&'w mut Value, &'static str> {
    if !workspace.has_channel(channel) {
        return Err("channel_not_found");
    }
    workspace
        .messages
        .get_mut(channel)
        .and_then(|messages| messages.iter_mut().find(|m| m["ts"] == ts))
        .ok_or("message_not_found")
}

fn update(shared: &Shared, args: &Args<'_>) -> Response {
    let (channel, ts) = (
        args.get("channel").unwrap_or_default(),
        args.get("ts").unwrap_or_default(),
    );
    let mut workspace = lock(&shared.workspace);
    let message = match find(&mut workspace, &channel, &ts) {
        Ok(message) => message,
        Err(code) => return api_error(code),
    };
    if message["user"] != shared.config.self_id.as_str() {
        return api_error("cant_update_message");
    }
    let text = args.get("text").unwrap_or_default();
    message["text"] = Value::from(text.as_str());
    if let Some(blocks) = args.json("blocks") {
        message["blocks"] = blocks;
    }
    ok(json!({"channel": channel, "ts": ts, "text": text}))
}

fn delete(shared: &Shared, args: &Args<'_>) -> Response {
    let (channel, ts) = (
        args.get("channel").unwrap_or_default(),
        args.get("ts").unwrap_or_default(),
    );
    let mut workspace = lock(&shared.workspace);
    match find(&mut workspace, &channel, &ts) {
        Ok(message) if message["user"] != shared.config.self_id.as_str() => {
            return api_error("cant_delete_message");
        }
        Ok(_) => {}
        Err(code) => return api_error(code),
    }
    if let Some(messages) = workspace.messages.get_mut(&channel) {
        messages.retain(|m| m["ts"] != ts.as_str());
    }
    ok(json!({"channel": channel, "ts": ts}))
}

fn post_ephemeral(shared: &Shared, args: &Args<'_>) -> Response {
    let channel = args.get("channel").unwrap_or_default();
    let user = args.get("user").unwrap_or_default();
    {
        let workspace = lock(&shared.workspace);
        if !workspace.has_channel(&channel) {
            return api_error("channel_not_found");
        }
        if !workspace.users.contains_key(&user) {
            return api_error("user_not_in_channel");
        }
    }
    if args.get("text").is_none() && args.json("blocks").is_none() {
        return api_error("no_text");
    }
    ok(json!({"message_ts": shared.next_ts()}))
}

fn reaction(shared: &Shared, args: &Args<'_>, add: bool) -> Response {
    let channel = args.get("channel").unwrap_or_default();
    let ts = args.get("timestamp").unwrap_or_default();
    let Some(name) = args.get("name") else {
        return api_error("invalid_name");
    };
    let me = shared.config.self_id.as_str();
    let mut workspace = lock(&shared.workspace);
    let message = match find(&mut workspace, &channel, &ts) {
        Ok(message) => message,
        Err(code) => return api_error(code),
    };
    let Some(map) = message.as_object_mut() else {
        return api_error("message_not_found");
    };
    let reactions = map.entry("reactions").or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = reactions.as_array_mut() else {
        return api_error("internal_error");
    };
    let pos = list.iter().position(|r| r["name"] == name.as_str());
    let mine = pos.is_some_and(|i| {
        list[i]["users"]
            .as_array()
            .is_some_and(|u| u.iter().any(|u| u == me))
    });
    match (add, pos, mine) {
        (true, _, true) => return api_error("already_reacted"),
        (false, _, false) => return api_error("no_reaction"),
        (true, Some(i), false) => {
            if let Some(users) = list[i]["users"].as_array_mut() {
                users.push(Value::from(me));
            }
            list[i]["count"] = Value::from(list[i]["users"].as_array().map_or(1, Vec::len));
        }
        (true, None, _) => list.push(json!({"name": name, "users": [me], "count": 1})),
        (false, Some(i), true) => {
            if let Some(users) = list[i]["users"].as_array_mut() {
                users.retain(|u| u != me);
            }
            let count = list[i]["users"].as_array().map_or(0, Vec::len);
            if count == 0 {
                list.remove(i);
            } else {
                list[i]["count"] = Value::from(count);
            }
        }
        (false, None, true) => {}
    }
    if list.is_empty() {
        map.remove("reactions");
    }
    ok(json!({}))
}

fn users_info(shared: &Shared, args: &Args<'_>) -> Response {
    let user = args.get("user").unwrap_or_default();
    match lock(&shared.workspace).users.get(&user) {
        Some(found) => ok(json!({"user": found})),
        None => api_error("user_not_found"),
    }
}

fn users_list(shared: &Shared, args: &Args<'_>) -> Response {
    let users: Vec<Value> = lock(&shared.workspace).users.values().cloned().collect();
    paginate(args, users, "members", json!({}))
}

fn conversations_info(shared: &Shared, args: &Args<'_>) -> Response {
    let channel = args.get("channel").unwrap_or_default();
    let workspace = lock(&shared.workspace);
    match workspace.channels.get(&channel) {
        Some(found) => ok(json!({"channel": found})),
        None if workspace.has_channel(&channel) => ok(json!({"channel": {"id": channel, "is_member": true}})),
        None => api_error("channel_not_found"),
    }
}

fn conversations_open(shared: &Shared, args: &Args<'_>) -> Response {
    let users: Vec<String> = args
        .get("users")
        .unwrap_or_default()
        .split(',')
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    let mut workspace = lock(&shared.workspace);
    if users.is_empty() {
        return match args.get("channel") {
            Some(channel) if workspace.has_channel(&channel) => ok(json!({"channel": {"id": channel}})),
            _ => api_error("channel_not_found"),
        };
    }
    if users.len() > 8 {
        return api_error("too_many_users");
    }
    if users.iter().any(|u| !workspace.users.contains_key(u)) {
        return api_error("user_not_found");
    }
    if users.len() == 1 {
        let id = format!("D{}", &users[0][1..]);
        let already_open = workspace.channels.contains_key(&id);
        let id = open_dm(&mut workspace, &users[0]);
        return ok(json!({"channel": {"id": id}, "no_op": already_open, "already_open": already_open}));
    }
    let id = format!("G{}", users.iter().map(|u| &u[1..]).collect::<Vec<_>>().join(""));
    workspace.channels.entry(id.clone()).or_insert_with(
        || json!({"id": id, "is_mpim": true, "is_channel": false, "is_private": true, "is_member": true}),
    );
    ok(json!({"channel": {"id": id}}))
}

/// Top-level messages (and broadcast replies), newest first.
fn history(shared: &Shared, args: &Args<'_>) -> Response {
    let channel = args.get("channel").unwrap_or_default();
    let workspace = lock(&shared.workspace);
    if !workspace.has_channel(&channel) {
        return api_error("channel_not_found");
    }
    let messages: Vec<Value> = workspace
        .messages
        .get(&channel)
        .map(|messages| {
            messages
                .iter()
                .rev()
                .filter(|m| m.get("thread_ts").is_none_or(|t| *t == m["ts"]) || m["reply_broadcast"] == true)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    drop(workspace);
    paginate(args, messages, "messages", json!({"pin_count": 0}))
}

/// A thread: its parent, then the replies, oldest first.
fn replies(shared: &Shared, args: &Args<'_>) -> Response {
    let channel = args.get("channel").unwrap_or_default();
    let ts = args.get("ts").unwrap_or_default();
    let workspace = lock(&shared.workspace);
    if !workspace.has_channel(&channel) {
        return api_error("channel_not_found");
    }
    let all = workspace
        .messages
        .get(&channel)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some(parent) = all.iter().find(|m| m["ts"] == ts.as_str()) else {
        return api_error("thread_not_found");
    };
    let mut thread = vec![parent.clone()];
    thread.extend(
        all.iter()
            .filter(|m| m["thread_ts"] == ts.as_str() && m["ts"] != ts.as_str())
            .cloned(),
    );
    drop(workspace);
    paginate(args, thread, "messages", json!({}))
}

fn conversations_list(shared: &Shared, args: &Args<'_>) -> Response {
    let types = args.get("types").unwrap_or_else(|| "public_channel".to_owned());
    let channels: Vec<Value> = lock(&shared.workspace)
        .channels
        .values()
        .filter(|c| {
            let kind = if c["is_im"] == true {
                "im"
            } else if c["is_mpim"] == true {
                "mpim"
            } else if c["is_private"] == true {
                "private_channel"
            } else {
                "public_channel"
            };
            types.split(',').any(|t| t.trim() == kind)
        })
        .cloned()
        .collect();
    paginate(args, channels, "channels", json!({}))
}

fn members(shared: &Shared, args: &Args<'_>) -> Response {
    let channel = args.get("channel").unwrap_or_default();
    let workspace = lock(&shared.workspace);
    if !workspace.has_channel(&channel) {
        return api_error("channel_not_found");
    }
    let ids: Vec<Value> = workspace
        .users
        .keys()
        .map(|id| Value::from(id.as_str()))
        .collect();
    drop(workspace);
    paginate(args, ids, "members", json!({}))
}

/// `views.open` (`trigger_id`) and `views.publish` (`user_id`): both need a `view`.
fn views(shared: &Shared, args: &Args<'_>, target: &str) -> Response {
    let (Some(_), Some(mut view)) = (args.get(target), args.json("view")) else {
        return api_error("invalid_arguments");
    };
    let n = {
        let mut workspace = lock(&shared.workspace);
        workspace.views += 1;
        workspace.views
    };
    if let Some(map) = view.as_object_mut() {
        map.insert("id".to_owned(), Value::from(format!("V{n:08}")));
        map.insert("hash".to_owned(), Value::from(format!("{n}.hash")));
    }
    ok(json!({"view": view}))
}

/// One page of `items` by `cursor`/`limit`, with `next_cursor` when more follow.
fn paginate(args: &Args<'_>, items: Vec<Value>, key: &str, mut extra: Value) -> Response {
    let limit = args
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let start = match args.get("cursor") {
        None => 0,
        Some(cursor) => match parse_cursor(&cursor) {
            Some(start) if start <= items.len() => start,
            _ => return api_error("invalid_cursor"),
        },
    };
    let end = (start + limit).min(items.len());
    let has_more = end < items.len();
    let next_cursor = if has_more { cursor(end) } else { String::new() };
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    if let Some(map) = extra.as_object_mut() {
        map.insert(key.to_owned(), Value::Array(page));
        map.insert("has_more".to_owned(), Value::Bool(has_more));
        map.insert(
            "response_metadata".to_owned(),
            json!({"next_cursor": next_cursor}),
        );
    }
    ok(extra)
}

/// Cursors look like Slack's: opaque base64-ish text ending in `=`, which must be URL-encoded.
fn cursor(offset: usize) -> String {
    format!("b2Zmc2V0:{offset}=")
}

fn parse_cursor(cursor: &str) -> Option<usize> {
    cursor.strip_prefix("b2Zmc2V0:")?.strip_suffix('=')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_pages_end() {
        assert_eq!(parse_cursor(&cursor(42)), Some(42));
        assert_eq!(parse_cursor("junk"), None);
        let items: Vec<Value> = (0..5).map(Value::from).collect();
        let map = json!({"limit": "2", "cursor": cursor(4)});
        let response = paginate(&Args(map.as_object().unwrap()), items, "messages", json!({}));
        assert_eq!(response.status, 200);
    }
}
