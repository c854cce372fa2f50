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

#[derive(Deserialize)]
struct ConnectResponse {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(flatten)]
    info: Option<ConnectionInfo>,
}

/// Calls `rtm.connect` once. Retrying is the caller's business.
pub(crate) async fn rtm_connect(http: &reqwest::Client, config: &ClientConfig) -> Result<Granted, Error> {
    let endpoint = config
        .api_url
        .join("rtm.connect")
        .map_err(|e| Error::Config(format!("invalid API URL: {e}")))?;
    let response = http
        .get(endpoint)
        .timeout(config.connect_timeout)
        .bearer_auth(config.token.expose())
        .send()
        .await
        .map_err(|e| {
            let host = config.api_url.host_str().unwrap_or_default();
            Error::http(format!("{} ({host})", describe(&e)), e.without_url())
        })?;

    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(Error::RateLimited {
            retry_after: retry_after(response.headers()),
        });
    }
    if !status.is_success() {
        return Err(Error::Http {
            reason: format!("rtm.connect answered HTTP {status}"),
            source: None,
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::http("reading rtm.connect response", e.without_url()))?;
    let parsed: ConnectResponse = serde_json::from_slice(&body)
        .map_err(|e| Error::Protocol(format!("rtm.connect returned invalid JSON: {e}")))?;
    if !parsed.ok {
        let code = parsed.error.unwrap_or_else(|| "unknown_error".to_owned());
        if code == "ratelimited" {
            return Err(Error::RateLimited {
                retry_after: Duration::ZERO,
            });
        }
        return Err(Error::Slack { code });
    }
    let url = parsed
        .url
        .ok_or_else(|| Error::Protocol("rtm.connect returned no url".into()))?;
    let url = Url::parse(&url).map_err(|_| Error::Protocol("rtm.connect returned an invalid url".into()))?;
    config.check_url(&url)?;
    let info = parsed
        .info
        .ok_or_else(|| Error::Protocol("rtm.connect returned no `self`/`team`".into()))?;
    Ok(Granted { url, info })
}

#[derive(Deserialize)]
struct OpenResponse {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

/// Calls `apps.connections.open` once (Socket Mode): a `POST` with the app-level token in the
/// `Authorization` header and an empty body. Returns the single-use socket URL.
pub(crate) async fn apps_connections_open(
    http: &reqwest::Client,
    config: &ClientConfig,
    app_token: &crate::Token,
) -> Result<Url, Error> {
    let endpoint = config
        .api_url
        .join("apps.connections.open")
        .map_err(|e| Error::Config(format!("invalid API URL: {e}")))?;
    let response = http
        .post(endpoint)
        .timeout(config.connect_timeout)
        .bearer_auth(app_token.expose())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .map_err(|e| {
            let host = config.api_url.host_str().unwrap_or_default();
            let what = if e.is_timeout() {
                "apps.connections.open timed out"
            } else if e.is_connect() {
                "cannot reach the Web API"
            } else {
                "apps.connections.open request failed"
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
            reason: format!("apps.connections.open answered HTTP {status}"),
            source: None,
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::http("reading apps.connections.open response", e.without_url()))?;
    let parsed: OpenResponse = serde_json::from_slice(&body)
        .map_err(|e| Error::Protocol(format!("apps.connections.open returned invalid JSON: {e}")))?;
    if !parsed.ok {
        let code = parsed.error.unwrap_or_else(|| "unknown_error".to_owned());
        if code == "ratelimited" {
            return Err(Error::RateLimited {
                retry_after: Duration::ZERO,
            });
        }
        return Err(Error::SocketModeRefused { code });
    }
    let url = parsed
        .url
        .ok_or_else(|| Error::Protocol("apps.connections.open returned no url".into()))?;
    let url = Url::parse(&url)
        .map_err(|_| Error::Protocol("apps.connections.open returned an invalid url".into()))?;
    config.check_url(&url)?;
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

fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "rtm.connect timed out"
    } else if e.is_connect() {
        "cannot reach the Web API"
    } else {
        "rtm.connect request failed"
    }
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
        let r: ConnectResponse = serde_json::from_str(body).unwrap();
        let info = r.info.unwrap();
        assert_eq!(info.self_user.id, "U4X318ZMZ");
        assert_eq!(info.team.enterprise_id.as_deref(), Some("E234567"));
        let r: ConnectResponse = serde_json::from_str(r#"{"ok":false,"error":"invalid_auth"}"#).unwrap();
        assert!(!r.ok && r.info.is_none());
    }
}
