//! HTTP for the web tools: clients with timeouts and redirect limits, bodies read under a
//! byte cap, and errors that say what went wrong.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Client, RequestBuilder, StatusCode, Url, redirect};

use super::guard::{AddressPolicy, Blocked, GuardedResolver};
use crate::config::WebConfig;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("`{url}` is not a valid URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("`{url}` uses the {scheme} scheme; only http and https URLs can be fetched")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("refused: {0}")]
    Blocked(#[from] Blocked),
    #[error("{url} did not answer within {after_ms} ms; try again later or raise `web.timeoutMs`")]
    Timeout { url: String, after_ms: u64 },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error(
        "{url} redirected more times than `web.maxRedirects` allows; fetch the final URL directly"
    )]
    TooManyRedirects { url: String },
    #[error("{url} answered HTTP {status}{excerpt}")]
    Status {
        url: String,
        status: StatusCode,
        excerpt: String,
    },
    #[error(
        "{url} sent more than {limit} bytes; webfetch reads at most `web.maxBytes` ({limit}) \
         bytes of a page"
    )]
    TooLarge { url: String, limit: u64 },
    #[error(
        "{url} is {content_type}, which webfetch cannot turn into text; it reads HTML, JSON, \
         XML and plain text"
    )]
    UnsupportedContent { url: String, content_type: String },
    #[error("{what} from {url} could not be read: {detail}")]
    Malformed {
        what: &'static str,
        url: String,
        detail: String,
    },
}

/// The guarded client webfetch uses: SSRF checks at resolution and on every redirect.
pub fn guarded_client(config: &WebConfig, policy: Arc<AddressPolicy>) -> Result<Client, String> {
    let max = config.max_redirects;
    let redirect_policy = policy.clone();
    let redirects = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(RedirectRefused::TooMany(max));
        }
        let url = attempt.url();
        if !matches!(url.scheme(), "http" | "https") {
            let scheme = url.scheme().to_string();
            return attempt.error(RedirectRefused::Scheme(scheme));
        }
        match redirect_policy.check_url(url) {
            Ok(()) => attempt.follow(),
            Err(blocked) => attempt.error(RedirectRefused::Blocked(blocked)),
        }
    });
    base(config)
        .redirect(redirects)
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The client for configured endpoints (search providers, code search): trusted URLs, so
/// no address guard, but the same limits.
pub fn endpoint_client(config: &WebConfig) -> Result<Client, String> {
    base(config)
        .redirect(redirect::Policy::limited(config.max_redirects))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

fn base(config: &WebConfig) -> reqwest::ClientBuilder {
    Client::builder()
        .user_agent(config.user_agent.clone())
        .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
        .timeout(Duration::from_millis(config.timeout_ms))
        // A proxy would resolve the target itself and defeat the guard.
        .no_proxy()
}

#[derive(Debug, thiserror::Error)]
enum RedirectRefused {
    #[error("more than {0} redirects")]
    TooMany(usize),
    #[error("redirect to a {0} URL")]
    Scheme(String),
    #[error(transparent)]
    Blocked(Blocked),
}

/// Parses a URL a model gave: http(s) only, with a host.
pub fn parse_url(raw: &str) -> Result<Url, WebError> {
    let url = Url::parse(raw.trim()).map_err(|e| WebError::InvalidUrl {
        url: raw.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(WebError::UnsupportedScheme {
            url: raw.to_string(),
            scheme: url.scheme().to_string(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(WebError::InvalidUrl {
            url: raw.to_string(),
            reason: "it has no host".into(),
        });
    }
    Ok(url)
}

/// A response read whole (up to the cap).
#[derive(Debug)]
pub struct Body {
    /// Where the body came from, after redirects.
    pub url: Url,
    pub status: StatusCode,
    /// The media type, lower case, without parameters (`text/html`).
    pub media_type: String,
    pub charset: Option<String>,
    pub bytes: Vec<u8>,
}

impl Body {
    /// The body as text, decoded by its declared charset (UTF-8 by default; bad bytes are
    /// replaced, never an error).
    pub fn text(&self) -> String {
        let encoding = self
            .charset
            .as_deref()
            .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
            .unwrap_or(encoding_rs::UTF_8);
        let (text, _, _) = encoding.decode(&self.bytes);
        text.into_owned()
    }
}

/// Sends `request` and reads at most `max_bytes` of the body; non-2xx answers are errors.
pub async fn read(
    request: RequestBuilder,
    url: &Url,
    max_bytes: u64,
    timeout_ms: u64,
) -> Result<Body, WebError> {
    let response = request
        .send()
        .await
        .map_err(|e| request_error(e, url, timeout_ms))?;
    let final_url = response.url().clone();
    let status = response.status();
    let (media_type, charset) = content_type(response.headers());
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(WebError::TooLarge {
            url: final_url.to_string(),
            limit: max_bytes,
        });
    }
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| request_error(e, &final_url, timeout_ms))?;
        if (bytes.len() + chunk.len()) as u64 > max_bytes {
            return Err(WebError::TooLarge {
                url: final_url.to_string(),
                limit: max_bytes,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    let body = Body {
        url: final_url,
        status,
        media_type,
        charset,
        bytes,
    };
    if !status.is_success() {
        let text = body.text();
        let excerpt: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let excerpt: String = excerpt.chars().take(200).collect();
        return Err(WebError::Status {
            url: body.url.to_string(),
            status,
            excerpt: if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            },
        });
    }
    Ok(body)
}

fn content_type(headers: &reqwest::header::HeaderMap) -> (String, Option<String>) {
    let Some(raw) = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return (String::new(), None);
    };
    let mut parts = raw.split(';');
    let media_type = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
    });
    (media_type, charset)
}

/// Turns a client error into what happened, looking through its causes for ours.
fn request_error(e: reqwest::Error, url: &Url, timeout_ms: u64) -> WebError {
    let url_text = e.url().unwrap_or(url).to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        if let Some(blocked) = cause.downcast_ref::<Blocked>() {
            return WebError::Blocked(blocked.clone());
        }
        if let Some(refused) = cause.downcast_ref::<RedirectRefused>() {
            return match refused {
                RedirectRefused::TooMany(_) => WebError::TooManyRedirects {
                    url: url.to_string(),
                },
                RedirectRefused::Scheme(scheme) => WebError::UnsupportedScheme {
                    url: url_text,
                    scheme: scheme.clone(),
                },
                RedirectRefused::Blocked(blocked) => WebError::Blocked(blocked.clone()),
            };
        }
        source = cause.source();
    }
    if e.is_timeout() {
        return WebError::Timeout {
            url: url_text,
            after_ms: timeout_ms,
        };
    }
    if e.is_redirect() {
        return WebError::TooManyRedirects {
            url: url.to_string(),
        };
    }
    WebError::Unreachable {
        url: url_text,
        detail: causes(&e),
    }
}

/// The error and its causes in one line, without repeats.
fn causes(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
