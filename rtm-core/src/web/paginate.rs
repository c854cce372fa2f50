//! Cursor pagination (§11.5) as lazy streams: a page is fetched only when the stream is
//! polled past the previous one, and the stream ends when `response_metadata.next_cursor` is
//! empty or absent — never on a short page.

use std::marker::PhantomData;

use futures::{Stream, StreamExt, TryStreamExt, stream};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::body::Request;
use super::client::WebClient;
use super::error::WebError;

/// One page of a paginated method.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The page's items (`messages`, `channels`, `members`, …).
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A paginated call, not started yet: choose [`pages`](Self::pages) or
/// [`items`](Self::items). Nothing is fetched until the stream is polled.
///
/// # Examples
/// ```no_run
/// # async fn demo(web: rtm_core::WebClient) -> Result<(), rtm_core::WebError> {
/// use futures::{StreamExt, TryStreamExt};
/// let last_50: Vec<_> = web.conversations_history("C123").page_size(50).items().take(50).try_collect().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a paginated call does nothing until its stream is polled"]
pub struct Paginated<T> {
    client: WebClient,
    method: String,
    args: Map<String, Value>,
    items_key: &'static str,
    page_size: u32,
    _items: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Send + 'static> Paginated<T> {
    pub(crate) fn new(
        client: &WebClient,
        method: &str,
        args: Map<String, Value>,
        items_key: &'static str,
    ) -> Self {
        Self {
            page_size: client.page_size(),
            client: client.clone(),
            method: method.to_owned(),
            args,
            items_key,
            _items: PhantomData,
        }
    }

    /// Items per page (`limit`), 1 to 1000; default the client's
    /// [`page_size`](crate::web::WebClientBuilder::page_size).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, 1000);
        self
    }

    /// Adds or replaces one argument (e.g. `oldest`, `types`, `exclude_archived`).
    pub fn arg(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.args.insert(name.to_owned(), value.into());
        self
    }

    /// The pages, fetched one at a time as the stream is polled. After an error the stream
    /// ends.
    pub fn pages(self) -> impl Stream<Item = Result<Page<T>, WebError>> + Send + 'static {
        let mut args = self.args;
        args.insert("limit".to_owned(), Value::from(self.page_size));
        let state = Some((self.client, self.method, args, self.items_key));
        stream::try_unfold(state, |state| async move {
            let Some((client, method, mut args, key)) = state else {
                return Ok(None);
            };
            let mut answer: Map<String, Value> = client.send(&method, &Request::new(&method, &args)).await?;
            let items = match answer.remove(key) {
                Some(items) => serde_json::from_value(items).map_err(|e| WebError::Decode {
                    method: method.clone(),
                    reason: format!("`{key}`: {e}"),
                    source: Some(std::sync::Arc::new(e)),
                })?,
                None => Vec::new(),
            };
            let next_cursor = answer
                .get("response_metadata")
                .and_then(|m| m.get("next_cursor"))
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_owned);
            let next = next_cursor.clone().map(|cursor| {
                args.insert("cursor".to_owned(), Value::from(cursor));
                (client, method, args, key)
            });
            Ok(Some((Page { items, next_cursor }, next)))
        })
    }

    /// The items of every page, in order, fetching the next page when the current one is
    /// used up. Stop early (e.g. `.take(50)`) and no further page is fetched.
    pub fn items(self) -> impl Stream<Item = Result<T, WebError>> + Send + 'static {
        self.pages()
            .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }
}
