//! `webfetch`: a URL as Markdown (main content), pretty JSON or text, through the SSRF guard
//! and the docs cache.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::web::convert::{self, Extract, Format, Page};
use super::web::doc_cache::DocCache;
use super::web::http::{self, WebError};
use super::web::window;
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct WebFetch;

/// The stack of the thread a page is converted on (reserved, touched only as deep as used).
const CONVERT_STACK: usize = 64 << 20;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    /// The http(s) URL to read.
    #[schemars(length(min = 1, max = 8192))]
    url: String,
    /// markdown (default), text, or html (the source as sent). Only HTML pages differ.
    #[serde(default)]
    format: Format,
    /// main (default): the page's main content only; full: the whole body.
    #[serde(default)]
    extract: Extract,
    /// Characters returned (100-1000000; default `web.maxOutputChars`, 50000). A longer
    /// page is cut with a marker giving the offset to read on from.
    #[serde(default)]
    #[schemars(range(min = 100, max = 1_000_000))]
    max_length: Option<usize>,
    /// Start at this character (to read past a cut).
    #[serde(default)]
    offset: usize,
    /// Fetch again even when the docs cache has a fresh copy.
    #[serde(default)]
    refresh: bool,
}

#[async_trait]
impl Tool for WebFetch {
    const NAME: &'static str = "webfetch";
    const DESCRIPTION: &'static str = "Fetch a web page or API URL and return it as Markdown \
(the page's main content; `extract: full` for everything), JSON pretty-printed, or plain text. \
Pages are cached in the workspace's docs cache (see cache_docs) for a day; `refresh: true` \
fetches again. Long pages are cut: call again with the `offset` the cut names. Internal \
addresses (localhost, private networks, cloud metadata) are refused.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let config = &orchestrator.config().web;
        let mut url =
            http::parse_url(&args.url).map_err(|e| OrchestratorError::InvalidArgument {
                field: "url",
                message: e.to_string(),
            })?;
        url.set_fragment(None);
        let max_chars = args.max_length.unwrap_or(config.max_output_chars);
        // Only the default rendering is cached, so a hit is always what was asked for.
        let cacheable = args.format == Format::Markdown && args.extract == Extract::Main;
        let cache = DocCache::of(orchestrator);

        if cacheable
            && !args.refresh
            && let Some(hit) = cache.get(url.as_str()).await?
        {
            let (text, truncated) = window(&hit.content, args.offset, max_chars);
            return Ok(ToolOutput {
                title: Some(hit.entry.title.clone().unwrap_or_else(|| url.to_string())),
                output: text,
                metadata: json!({
                    "url": url.as_str(),
                    "title": hit.entry.title,
                    "kind": page_kind(&hit.entry.content_type),
                    "chars": hit.content.chars().count(),
                    "offset": args.offset,
                    "truncated": truncated,
                    "cached": true,
                    "cacheFile": hit.entry.file,
                    "fetchedAt": hit.entry.fetched_at,
                    "expiresAt": hit.entry.expires_at,
                }),
            });
        }

        let guarded = orchestrator.web_clients().guarded(config)?;
        guarded.policy.check_url(&url).map_err(WebError::from)?;
        let request = guarded.client.get(url.clone()).header(
            reqwest::header::ACCEPT,
            "text/html,application/xhtml+xml,application/json;q=0.9,text/plain;q=0.8,*/*;q=0.5",
        );
        let body = http::read(request, &url, config.max_bytes, config.timeout_ms).await?;
        let Some(kind) = convert::kind_of(&body.media_type, &body.bytes) else {
            return Err(WebError::UnsupportedContent {
                url: body.url.to_string(),
                content_type: if body.media_type.is_empty() {
                    "binary data".into()
                } else {
                    body.media_type.clone()
                },
            }
            .into());
        };
        let (format, extract) = (args.format, args.extract);
        let final_url = body.url.to_string();
        let status = body.status.as_u16();
        // Off the async threads, on one with room for the converter's recursion (once per
        // nesting level, up to convert::MAX_DEPTH counted): a blocking-pool thread has 2 MiB.
        let (done, converted) = tokio::sync::oneshot::channel::<Page>();
        std::thread::Builder::new()
            .name("webfetch-convert".into())
            .stack_size(CONVERT_STACK)
            .spawn(move || {
                let text = body.text();
                let _ = done.send(convert::convert(
                    &text,
                    kind,
                    body.url.as_str(),
                    format,
                    extract,
                ));
            })
            .map_err(|e| {
                OrchestratorError::ToolFailed(format!("cannot start converting the page: {e}"))
            })?;
        let page = converted.await.map_err(|_| {
            OrchestratorError::ToolFailed(
                "converting the page failed (see the server's log)".into(),
            )
        })?;

        let cached = if cacheable && !page.content.is_empty() {
            Some(
                cache
                    .put(
                        url.as_str(),
                        page.title.clone(),
                        cached_kind(page.kind),
                        &page.content,
                    )
                    .await?,
            )
        } else {
            None
        };
        let (text, truncated) = window(&page.content, args.offset, max_chars);
        Ok(ToolOutput {
            title: Some(page.title.clone().unwrap_or_else(|| url.to_string())),
            output: text,
            metadata: json!({
                "url": url.as_str(),
                "finalUrl": final_url,
                "status": status,
                "title": page.title,
                "kind": page.kind,
                "mainContent": page.main_content,
                "chars": page.content.chars().count(),
                "offset": args.offset,
                "truncated": truncated,
                "cached": false,
                "cacheFile": cached.map(|e| e.file),
            }),
        })
    }
}

/// What the docs cache files a page as: an HTML page is kept as the Markdown made of it.
fn cached_kind(page_kind: &'static str) -> &'static str {
    if page_kind == "html" {
        "markdown"
    } else {
        page_kind
    }
}

/// The kind of page a cache entry was made from (what a fresh fetch reports).
fn page_kind(cached_kind: &str) -> &str {
    if cached_kind == "markdown" {
        "html"
    } else {
        cached_kind
    }
}
