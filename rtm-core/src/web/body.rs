//! Request bodies: JSON for the methods that accept it, a urlencoded form for every other
//! (§11.1). JSON sent to a form-only method is silently ignored by Slack, so the choice is
//! made here, once, from Slack's per-method content types.

use serde_json::{Map, Value};

use super::error::WebError;

/// The JSON content type Slack wants (without the charset it warns `missing_charset`).
const JSON: &str = "application/json; charset=utf-8";
/// The form content type (with a charset Slack warns `superfluous_charset`).
const FORM: &str = "application/x-www-form-urlencoded";

/// A request body, ready to send.
#[derive(Debug)]
pub(crate) struct Body {
    pub(crate) content_type: &'static str,
    /// Shared, so each attempt hands reqwest the same buffer.
    pub(crate) bytes: bytes::Bytes,
}

/// A call encoded and ready to send: what a call waiting for its turn holds (not the
/// arguments it was encoded from).
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) body: Body,
    /// `chat.postMessage`'s channel, which its pace is kept per.
    pub(crate) channel: Option<Box<str>>,
}

impl Request {
    /// Encodes `args`, anything that serialises to a JSON object (or `()` for none).
    pub(crate) fn encode(method: &str, args: &impl serde::Serialize) -> Result<Request, WebError> {
        Ok(Request::new(method, &super::client::to_object(method, args)?))
    }

    pub(crate) fn new(method: &str, args: &Map<String, Value>) -> Request {
        let channel = (method == "chat.postMessage")
            .then(|| args.get("channel").and_then(Value::as_str))
            .flatten()
            .map(Box::from);
        Request {
            body: encode(method, args),
            channel,
        }
    }
}

/// Methods documented as accepting JSON bodies; all others get forms.
pub(crate) fn accepts_json(method: &str) -> bool {
    matches!(
        method,
        "chat.postMessage"
            | "chat.update"
            | "chat.delete"
            | "chat.postEphemeral"
            | "chat.scheduleMessage"
            | "chat.meMessage"
            | "reactions.add"
            | "reactions.remove"
            | "conversations.open"
            | "views.open"
            | "views.publish"
            | "views.update"
            | "views.push"
            | "auth.test"
    )
}

/// Encodes `args` for `method`. Nulls are left out (Slack's default applies).
pub(crate) fn encode(method: &str, args: &Map<String, Value>) -> Body {
    if accepts_json(method) {
        Body {
            content_type: JSON,
            bytes: serde_json::to_vec(&WithoutNulls(args))
                .unwrap_or_else(|_| b"{}".to_vec())
                .into(),
        }
    } else {
        Body {
            content_type: FORM,
            bytes: form(args).into_bytes().into(),
        }
    }
}

/// An object serialised without its `null` fields (Slack reads `"thread_ts": null` as a
/// value), without copying it.
struct WithoutNulls<'a>(&'a Map<String, Value>);

impl serde::Serialize for WithoutNulls<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().filter(|(_, value)| !value.is_null()))
    }
}

/// A urlencoded form: strings as they are, numbers and booleans as text, arrays and objects
/// (`blocks`, `view`, `metadata`) as JSON strings, nulls left out.
pub(crate) fn form(args: &Map<String, Value>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (key, value) in args {
        match value {
            Value::Null => {}
            Value::String(s) => {
                form.append_pair(key, s);
            }
            Value::Bool(b) => {
                form.append_pair(key, if *b { "true" } else { "false" });
            }
            Value::Number(n) => {
                form.append_pair(key, &n.to_string());
            }
            Value::Array(_) | Value::Object(_) => {
                form.append_pair(key, &value.to_string());
            }
        }
    }
    form.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// A request keeps what its sends need (the body, and the channel a post is paced by)
    /// without the arguments it was encoded from.
    #[test]
    fn a_request_keeps_its_body_and_a_posts_channel() {
        let post = args(json!({"channel": "C1", "text": "hi", "thread_ts": null}));
        let request = Request::new("chat.postMessage", &post);
        assert_eq!(request.channel.as_deref(), Some("C1"));
        assert_eq!(&request.body.bytes[..], br#"{"channel":"C1","text":"hi"}"#);
        let update = Request::new("chat.update", &post);
        assert_eq!(update.channel, None, "only posts are paced per channel");
    }

    #[test]
    fn form_only_methods_get_forms() {
        let body = encode(
            "conversations.history",
            &args(
                json!({"channel": "C1", "cursor": "dXNlcj0=", "limit": 200, "inclusive": true, "latest": null}),
            ),
        );
        assert_eq!(body.content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            std::str::from_utf8(&body.bytes).unwrap(),
            "channel=C1&cursor=dXNlcj0%3D&inclusive=true&limit=200"
        );
    }

    #[test]
    fn json_methods_get_json_without_nulls() {
        let body = encode(
            "chat.postMessage",
            &args(
                json!({"channel": "C1", "text": "a&b", "thread_ts": null, "blocks": [{"type": "divider"}]}),
            ),
        );
        assert_eq!(body.content_type, "application/json; charset=utf-8");
        let sent: Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(
            sent,
            json!({"channel": "C1", "text": "a&b", "blocks": [{"type": "divider"}]})
        );
    }

    #[test]
    fn nested_values_become_json_strings_in_forms() {
        let form = form(&args(json!({"view": {"type": "home"}})));
        assert_eq!(form, "view=%7B%22type%22%3A%22home%22%7D");
    }
}
