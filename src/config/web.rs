//! Limits and endpoints of the web tools: webfetch, cache_docs, websearch, codesearch.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The web tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebConfig {
    /// Hosts webfetch may reach even though they are loopback, private, link-local or
    /// metadata addresses: host names (`intranet.local`), addresses (`127.0.0.1`) or CIDR
    /// ranges (`10.0.0.0/8`). Everything else in those ranges is refused.
    pub allow_hosts: Vec<String>,
    /// Connecting to a server may take this long, in milliseconds (100-120000).
    pub connect_timeout_ms: u64,
    /// A whole request (connect, redirects, body) may take this long, in milliseconds
    /// (100-600000).
    pub timeout_ms: u64,
    /// Redirects followed per request (0-20).
    pub max_redirects: usize,
    /// Largest response body read, in bytes (after decompression); a larger one is an error
    /// (1024-268435456).
    pub max_bytes: u64,
    /// Characters of a page webfetch returns when the call names no `maxLength`; longer pages
    /// are cut with a marker saying how to read on (1000-1000000).
    pub max_output_chars: usize,
    /// Sent as the User-Agent header.
    pub user_agent: String,
    /// Seconds a page in the docs cache (`.opencode/docs/`) stays fresh (1-31536000).
    pub cache_ttl_secs: u64,
    /// websearch's providers.
    pub search: WebSearchConfig,
    /// codesearch's endpoint.
    pub codesearch: CodeSearchConfig,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            allow_hosts: Vec::new(),
            connect_timeout_ms: 10_000,
            timeout_ms: 30_000,
            max_redirects: 5,
            max_bytes: 5 << 20,
            max_output_chars: 50_000,
            user_agent: concat!("opencode-orchestrator/", env!("CARGO_PKG_VERSION")).into(),
            cache_ttl_secs: 24 * 60 * 60,
            search: WebSearchConfig::default(),
            codesearch: CodeSearchConfig::default(),
        }
    }
}

/// A websearch provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchProvider {
    /// SearXNG instances (`searxngUrls`), JSON API.
    Searxng,
    /// The Brave Search API; needs a key in the environment variable `braveApiKeyEnv`.
    Brave,
    /// DuckDuckGo's HTML endpoint.
    Duckduckgo,
}

impl SearchProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchProvider::Searxng => "searxng",
            SearchProvider::Brave => "brave",
            SearchProvider::Duckduckgo => "duckduckgo",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebSearchConfig {
    /// Providers tried in this order; the first that returns results wins.
    pub providers: Vec<SearchProvider>,
    /// SearXNG instances (base URLs), tried in order. Each must have the JSON format enabled.
    pub searxng_urls: Vec<String>,
    /// The Brave Search API endpoint.
    pub brave_url: String,
    /// The environment variable holding the Brave Search API key; Brave is skipped without it.
    pub brave_api_key_env: String,
    /// DuckDuckGo's HTML endpoint.
    pub duckduckgo_url: String,
}

impl Default for WebSearchConfig {
    fn default() -> Self {
        Self {
            providers: vec![
                SearchProvider::Searxng,
                SearchProvider::Brave,
                SearchProvider::Duckduckgo,
            ],
            searxng_urls: Vec::new(),
            brave_url: "https://api.search.brave.com/res/v1/web/search".into(),
            brave_api_key_env: "BRAVE_API_KEY".into(),
            duckduckgo_url: "https://html.duckduckgo.com/html/".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CodeSearchConfig {
    /// The grep.app-compatible service; `/api/search` is appended.
    pub base_url: String,
}

impl Default for CodeSearchConfig {
    fn default() -> Self {
        Self {
            base_url: "https://grep.app".into(),
        }
    }
}

impl WebConfig {
    /// The checks, as (key, message) of the first failure.
    pub(super) fn check(&self) -> Result<(), (String, String)> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err((
                    format!("web.{key}"),
                    format!("must be between {lo} and {hi}, got {v}"),
                ))
            } else {
                Ok(())
            }
        };
        range("connectTimeoutMs", self.connect_timeout_ms, 100, 120_000)?;
        range("timeoutMs", self.timeout_ms, 100, 600_000)?;
        range("maxRedirects", self.max_redirects as u64, 0, 20)?;
        range("maxBytes", self.max_bytes, 1024, 256 << 20)?;
        range(
            "maxOutputChars",
            self.max_output_chars as u64,
            1000,
            1_000_000,
        )?;
        range("cacheTtlSecs", self.cache_ttl_secs, 1, 365 * 24 * 60 * 60)?;
        if self.user_agent.trim().is_empty()
            || reqwest::header::HeaderValue::from_str(&self.user_agent).is_err()
        {
            return Err((
                "web.userAgent".into(),
                "must be a non-empty header value (visible ASCII)".into(),
            ));
        }
        for (i, host) in self.allow_hosts.iter().enumerate() {
            if host.trim().is_empty()
                || host.contains(['/', ' ']) && host.parse::<ipnet::IpNet>().is_err()
            {
                return Err((
                    format!("web.allowHosts[{i}]"),
                    format!("`{host}` is not a host name, an IP address or a CIDR range"),
                ));
            }
        }
        let http_url = |key: String, url: &str| match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
            _ => Err((key, format!("must be an http(s) URL, got `{url}`"))),
        };
        for (i, url) in self.search.searxng_urls.iter().enumerate() {
            http_url(format!("web.search.searxngUrls[{i}]"), url)?;
        }
        http_url("web.search.braveUrl".into(), &self.search.brave_url)?;
        http_url(
            "web.search.duckduckgoUrl".into(),
            &self.search.duckduckgo_url,
        )?;
        http_url("web.codesearch.baseUrl".into(), &self.codesearch.base_url)?;
        if self.search.brave_api_key_env.trim().is_empty() {
            return Err((
                "web.search.braveApiKeyEnv".into(),
                "must name an environment variable".into(),
            ));
        }
        Ok(())
    }
}
