//! websearch's providers, tried in the configured order until one returns results.

mod brave;
mod duckduckgo;
mod searxng;

use reqwest::Client;
use serde::Serialize;

use super::http::WebError;
use crate::config::{SearchProvider, WebConfig};

/// One search result, the same whoever found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub title: String,
    pub url: String,
    pub snippet: String,
    pub provider: &'static str,
}

/// How one provider fared.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub provider: &'static str,
    /// The endpoint asked (for SearXNG, which instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `ok`, `empty`, `failed` or `skipped`.
    pub outcome: &'static str,
    pub results: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The chain's answer: the winner's hits (empty when nobody had any) and every attempt.
#[derive(Debug)]
pub struct Answer {
    pub hits: Vec<Hit>,
    pub attempts: Vec<Attempt>,
}

pub struct Query<'a> {
    pub text: &'a str,
    pub max_results: usize,
    /// An ISO language code (`en`, `de`), when the caller wants one.
    pub language: Option<&'a str>,
    /// `web.timeoutMs`, for error messages.
    pub timeout_ms: u64,
}

/// One endpoint's answer: which endpoint (SearXNG instances), and its hits or error.
type EndpointResult = (Option<String>, Result<Vec<Hit>, String>);

/// Asks each provider in turn; the first with results wins.
pub async fn search(client: &Client, config: &WebConfig, query: &Query<'_>) -> Answer {
    let mut attempts = Vec::new();
    for provider in &config.search.providers {
        let endpoints: Vec<EndpointResult> = match provider {
            SearchProvider::Searxng => {
                if config.search.searxng_urls.is_empty() {
                    attempts.push(skipped(
                        *provider,
                        "no instances in `web.search.searxngUrls`",
                    ));
                    continue;
                }
                let mut results = Vec::new();
                for base in &config.search.searxng_urls {
                    let result = searxng::search(client, base, query).await;
                    let found = matches!(&result, Ok(hits) if !hits.is_empty());
                    results.push((Some(base.clone()), result.map_err(|e| e.to_string())));
                    if found {
                        break;
                    }
                }
                results
            }
            SearchProvider::Brave => {
                let key = std::env::var(&config.search.brave_api_key_env)
                    .ok()
                    .filter(|k| !k.trim().is_empty());
                let Some(key) = key else {
                    attempts.push(skipped(
                        *provider,
                        &format!("no API key in ${}", config.search.brave_api_key_env),
                    ));
                    continue;
                };
                let result = brave::search(client, &config.search.brave_url, &key, query).await;
                vec![(None, result.map_err(|e| e.to_string()))]
            }
            SearchProvider::Duckduckgo => {
                let result = duckduckgo::search(client, &config.search.duckduckgo_url, query).await;
                vec![(None, result.map_err(|e| e.to_string()))]
            }
        };
        for (endpoint, result) in endpoints {
            match result {
                Ok(mut hits) if !hits.is_empty() => {
                    hits.truncate(query.max_results);
                    attempts.push(Attempt {
                        provider: provider.as_str(),
                        endpoint,
                        outcome: "ok",
                        results: hits.len(),
                        error: None,
                    });
                    return Answer { hits, attempts };
                }
                Ok(_) => attempts.push(Attempt {
                    provider: provider.as_str(),
                    endpoint,
                    outcome: "empty",
                    results: 0,
                    error: None,
                }),
                Err(error) => attempts.push(Attempt {
                    provider: provider.as_str(),
                    endpoint,
                    outcome: "failed",
                    results: 0,
                    error: Some(error),
                }),
            }
        }
    }
    Answer {
        hits: Vec::new(),
        attempts,
    }
}

fn skipped(provider: SearchProvider, why: &str) -> Attempt {
    Attempt {
        provider: provider.as_str(),
        endpoint: None,
        outcome: "skipped",
        results: 0,
        error: Some(why.to_string()),
    }
}

/// Parses a provider's JSON answer, naming the provider when it is not what we expect.
fn decode<T: serde::de::DeserializeOwned>(
    body: &super::http::Body,
    what: &'static str,
) -> Result<T, WebError> {
    serde_json::from_slice(&body.bytes).map_err(|e| WebError::Malformed {
        what,
        url: body.url.to_string(),
        detail: e.to_string(),
    })
}

/// Collapses whitespace and trims: provider snippets come with line breaks and padding.
fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keeps results with an http(s) URL and a title, de-duplicated by URL.
fn normalise(hits: Vec<Hit>) -> Vec<Hit> {
    let mut seen = std::collections::HashSet::new();
    hits.into_iter()
        .filter(|h| h.url.starts_with("http://") || h.url.starts_with("https://"))
        .filter(|h| seen.insert(h.url.clone()))
        .map(|mut h| {
            if h.title.is_empty() {
                h.title = h.url.clone();
            }
            h
        })
        .collect()
}
