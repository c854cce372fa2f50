//! The Web API call `rtm.connect`: token in the `Authorization` header, `ok: false` turned
//! into a typed error, HTTP 429 turned into the exact `Retry-After` wait.

use std::{sync::OnceLock, time::Duration};

use reqwest::{StatusCode, Url, header};
use serde::Deserialize;

use crate::{ClientConfig, Error};

/// Who we are connected as, from `rtm.connect`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The bot or user the token belongs to.
    #[serde(rename = "self")]
    pub self_user: SelfUser,
    /// The workspace.
    pub team: Team,
}

/// The connected user (`self` in Slack's response).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SelfUser {
    /// User id, e.g. `U4X318ZMZ`.
    pub id: String,
    /// User name.
    #[serde(default)]
    pub name: String,
}

/// The workspace a connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Team {
    /// Team id, e.g. `T2U81E2FP`.
    pub id: String,
    /// Team name.
    #[serde(default)]
    pub name: String,
    /// Team domain (`<domain>.slack.com`).
    #[serde(default)]
    pub domain: String,
    /// Enterprise Grid id, when the team belongs to one.
    #[serde(default)]
    pub enterprise_id: Option<String>,
}

/// A successful `rtm.connect`: where to open the socket and who we are.
pub(crate) struct Granted {
    pub(crate) url: Url,
    pub(crate) info: ConnectionInfo,
}

/// The process-wide HTTP client: one connection pool and TLS setup shared by every
/// [`RtmClient`](crate::RtmClient) (a process with thousands of workspaces needs one, not
/// thousands). Timeouts are set per request.
pub(crate) fn http_client() -> Result<reqwest::Client, Error> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured((*crate::tls::client_config()).clone())
        .user_agent(concat!("rtm-core/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::http("cannot build the HTTP client", e))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// The answer to a call for a socket URL: Slack's envelope, the URL, and (for `rtm.connect`)
/// who we are.
#[derive(Deserialize)]
struct UrlResponse<T> {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(flatten)]
    rest: T,
}

/// Sends one call for a socket URL (`rtm.connect`, `apps.connections.open`) and reads Slack's
/// answer: HTTP 429 and `ratelimited` become [`Error::RateLimited`] (with the exact
/// `Retry-After`), other refusals go through `refused`, and the URL is checked against the
/// configuration. Retrying is the caller's business.
async fn socket_url_call<T: serde::de::DeserializeOwned>(
    method: &str,
    request: reqwest::RequestBuilder,
    config: &ClientConfig,
    refused: fn(String) -> Error,
) -> Result<(Url, T), Error> {
    let response = request
        .timeout(config.connect_timeout)
        .send()
        .await
        .map_err(|e| {
            let host = config.api_url.host_str().unwrap_or_default();
            let what = if e.is_timeout() {
                format!("{method} timed out")
            } else if e.is_connect() {
                "cannot reach the Web API".to_owned()
            } else {
                format!("{method} request failed")
            };
            Error::http(format!("{what} ({host})"), e.without_url())
        })?;
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(Error::RateLimited {
            retry_after: retry_after(response.headers()),
        });
    }
    if !status.is_success() {
        return Err(Error::Http {
            reason: format!("{method} answered HTTP {status}"),
            source: None,
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::http(format!("reading {method} response"), e.without_url()))?;
    let parsed: UrlResponse<T> = serde_json::from_slice(&body)
        .map_err(|e| Error::Protocol(format!("{method} returned invalid JSON: {e}")))?;
    if !parsed.ok {
        let code = parsed.error.unwrap_or_else(|| "unknown_error".to_owned());
        if code == "ratelimited" {
            return Err(Error::RateLimited {
                retry_after: Duration::ZERO,
            });
        }
        return Err(refused(code));
    }
    let url = parsed
        .url
        .ok_or_else(|| Error::Protocol(format!("{method} returned no url")))?;
    let url = Url::parse(&url).map_err(|_| Error::Protocol(format!("{method} returned an invalid url")))?;
    config.check_url(&url)?;
    Ok((url, parsed.rest))
}

fn endpoint(config: &ClientConfig, method: &str) -> Result<Url, Error> {
    config
        .api_url
        .join(method)
        .map_err(|e| Error::Config(format!("invalid API URL: {e}")))
}

/// Who we are, in `rtm.connect`'s answer.
#[derive(Deserialize)]
struct Identity {
    #[serde(flatten)]
    info: Option<ConnectionInfo>,
}

/// Calls `rtm.connect` once, token in the `Authorization` header.
pub(crate) async fn rtm_connect(http: &reqwest::Client, config: &ClientConfig) -> Result<Granted, Error> {
    let request = http
        .get(endpoint(config, "rtm.connect")?)
        .bearer_auth(config.token.expose());
    let (url, identity) =
        socket_url_call::<Identity>("rtm.connect", request, config, |code| Error::Slack { code }).await?;
    let info = identity
        .info
        .ok_or_else(|| Error::Protocol("rtm.connect returned no `self`/`team`".into()))?;
    Ok(Granted { url, info })
}

/// Calls `apps.connections.open` once (Socket Mode): a `POST` with the app-level token in the
/// `Authorization` header and an empty body. Returns the single-use socket URL.
pub(crate) async fn apps_connections_open(
    http: &reqwest::Client,
    config: &ClientConfig,
    app_token: &crate::Token,
) -> Result<Url, Error> {
    let request = http
        .post(endpoint(config, "apps.connections.open")?)
        .bearer_auth(app_token.expose())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("");
    let (url, serde::de::IgnoredAny) = socket_url_call("apps.connections.open", request, config, |code| {
        Error::SocketModeRefused { code }
    })
    .await?;
    Ok(url)
}

/// The `Retry-After` header in whole seconds, as Slack sends it. Missing or unreadable means
/// one second: waiting a little is always safer than hammering a tier-1 method.
fn retry_after(headers: &header::HeaderMap) -> Duration {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = header::HeaderMap::new();
        assert_eq!(retry_after(&h), Duration::from_secs(1));
        h.insert(header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Duration::from_secs(3));
    }

    #[test]
    fn connect_response_parses_slack_example() {
        let body = r#"{"ok": true, "url": "wss://wss-primary.slack.com/websocket/AbCdEf123",
 "team": {"id": "T2U81E2FP", "name": "SlackDemo", "domain": "slackdemo",
          "enterprise_id": "E234567", "enterprise_name": "Big Org"},
 "self": {"id": "U4X318ZMZ", "name": "robotoverlord"}}"#;
        let r: UrlResponse<Identity> = serde_json::from_str(body).unwrap();
        let info = r.rest.info.unwrap();
        assert_eq!(info.self_user.id, "U4X318ZMZ");
        assert_eq!(info.team.enterprise_id.as_deref(), Some("E234567"));
        let r: UrlResponse<Identity> =
            serde_json::from_str(r#"{"ok":false,"error":"invalid_auth"}"#).unwrap();
        assert!(!r.ok && r.rest.info.is_none());
    }
}
