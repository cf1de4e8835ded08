//! `cache_docs`: the workspace's documentation cache (`.opencode/docs/`), filled by webfetch.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::web::doc_cache::{self, DocCache};
use super::web::window;
use super::{Tool, ToolContext, ToolOutput};
use crate::orchestrator::task::now_ms;
use crate::orchestrator::{Orchestrator, OrchestratorError};

pub struct CacheDocs;

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The cached pages: URL, title, size, age.
    List,
    /// One cached page's text (needs `url`).
    Get,
    /// Remove one page (`url`) or, without `url`, every page.
    Clear,
    /// Counts, sizes, the directory and the time to live.
    Stats,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Args {
    action: Action,
    /// The page's URL, as webfetch was given it (for get and clear).
    #[serde(default)]
    url: Option<String>,
    /// get: characters returned (100-1000000; default `web.maxOutputChars`).
    #[serde(default)]
    #[schemars(range(min = 100, max = 1_000_000))]
    max_length: Option<usize>,
    /// get: start at this character.
    #[serde(default)]
    offset: usize,
}

#[async_trait]
impl Tool for CacheDocs {
    const NAME: &'static str = "cache_docs";
    const REPEATABLE: bool = true;
    const DESCRIPTION: &'static str = "The workspace's documentation cache: pages webfetch \
read, kept as Markdown under .opencode/docs/ and fresh for a day. `list` shows them, `get` \
reads one by URL without going to the network, `clear` removes one (url) or all, `stats` \
sums them up. Check it before fetching docs again.";
    type Args = Args;

    async fn run(
        &self,
        orchestrator: &Orchestrator,
        _ctx: &ToolContext,
        args: Args,
    ) -> Result<ToolOutput, OrchestratorError> {
        let cache = DocCache::of(orchestrator);
        let url = args.url.as_deref().map(normalise_url);
        match args.action {
            Action::List => list(&cache).await,
            Action::Get => {
                let Some(url) = url else {
                    return Err(needs_url("get"));
                };
                let Some(page) = cache.get(&url).await? else {
                    return Err(OrchestratorError::InvalidArgument {
                        field: "url",
                        message: format!(
                            "{url} is not in the docs cache (or has expired); webfetch it to \
                             cache it, or `list` what is cached"
                        ),
                    });
                };
                let max = args
                    .max_length
                    .unwrap_or(orchestrator.config().web.max_output_chars);
                let (text, truncated) = window(&page.content, args.offset, max);
                Ok(ToolOutput {
                    title: Some(page.entry.title.clone().unwrap_or_else(|| url.clone())),
                    output: text,
                    metadata: json!({
                        "entry": page.entry,
                        "chars": page.content.chars().count(),
                        "offset": args.offset,
                        "truncated": truncated,
                    }),
                })
            }
            Action::Clear => {
                let cleared = cache.clear(url.as_deref()).await?;
                if let Some(url) = &url
                    && cleared.entries == 0
                {
                    return Err(OrchestratorError::InvalidArgument {
                        field: "url",
                        message: format!("{url} is not in the docs cache; nothing was removed"),
                    });
                }
                Ok(ToolOutput {
                    title: Some(format!("cleared {} cached pages", cleared.entries)),
                    output: format!(
                        "Removed {} cached {} ({} bytes).",
                        cleared.entries,
                        if cleared.entries == 1 {
                            "page"
                        } else {
                            "pages"
                        },
                        cleared.bytes
                    ),
                    metadata: json!({ "removed": cleared.entries, "bytes": cleared.bytes }),
                })
            }
            Action::Stats => {
                let entries = cache.list().await?;
                let bytes: u64 = entries.iter().map(|e| e.bytes).sum();
                let ttl_secs = cache.ttl_ms() / 1000;
                let dir = cache.dir().display().to_string();
                Ok(ToolOutput {
                    title: Some(format!("{} cached pages", entries.len())),
                    output: format!(
                        "{} cached pages, {bytes} bytes, in {dir}; pages stay fresh for {}.",
                        entries.len(),
                        human_secs(ttl_secs)
                    ),
                    metadata: json!({
                        "entries": entries.len(),
                        "bytes": bytes,
                        "dir": dir,
                        "ttlSecs": ttl_secs,
                        "oldestFetchedAt": entries.iter().map(|e| e.fetched_at).min(),
                        "newestFetchedAt": entries.iter().map(|e| e.fetched_at).max(),
                    }),
                })
            }
        }
    }
}

async fn list(cache: &DocCache<'_>) -> Result<ToolOutput, OrchestratorError> {
    let entries = cache.list().await?;
    let now = now_ms();
    let mut out = if entries.is_empty() {
        "The docs cache is empty; webfetch fills it.".to_string()
    } else {
        format!("{} cached pages (newest first):\n", entries.len())
    };
    for e in &entries {
        out.push_str(&format!(
            "\n- {} — {} ({} bytes, expires in {})",
            e.url,
            e.title.as_deref().unwrap_or("untitled"),
            e.bytes,
            human_secs(doc_cache::expires_in(e, now))
        ));
    }
    Ok(ToolOutput {
        title: Some(format!("{} cached pages", entries.len())),
        output: out,
        metadata: json!({ "entries": entries }),
    })
}

fn needs_url(action: &str) -> OrchestratorError {
    OrchestratorError::InvalidArgument {
        field: "url",
        message: format!("`{action}` needs the page's `url`; `list` shows the cached ones"),
    }
}

/// The cache is keyed by the URL webfetch fetched, which drops the fragment.
fn normalise_url(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(mut u) => {
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.trim().to_string(),
    }
}

fn human_secs(secs: u64) -> String {
    match secs {
        s if s >= 2 * 3600 => format!("{} h", s / 3600),
        s if s >= 120 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
