//! The documentation cache: pages webfetch read, kept as files under
//! `<workspace>/.opencode/docs/` and indexed in the ledger, fresh for `web.cacheTtlSecs`.
//!
//! Expired entries are dropped (row and file) whenever the cache is read, so what is listed
//! is what is served.

use std::path::{Path, PathBuf};

use crate::orchestrator::ledger::{DocEntry, Ledger, Op};
use crate::orchestrator::task::{Millis, now_ms};
use crate::orchestrator::{Orchestrator, OrchestratorError};

/// The cache directory, relative to the workspace root.
pub const DOCS_DIR: &str = ".opencode/docs";

pub struct DocCache<'a> {
    ledger: &'a Ledger,
    dir: PathBuf,
    ttl_ms: u64,
}

/// A cached page with its text.
#[derive(Debug)]
pub struct CachedPage {
    pub entry: DocEntry,
    pub content: String,
}

/// What `clear` removed.
#[derive(Debug, Default)]
pub struct Cleared {
    pub entries: usize,
    pub bytes: u64,
}

impl<'a> DocCache<'a> {
    pub fn of(orchestrator: &'a Orchestrator) -> Self {
        Self {
            ledger: orchestrator.ledger(),
            dir: orchestrator.workspace_root().join(DOCS_DIR),
            ttl_ms: orchestrator
                .config()
                .web
                .cache_ttl_secs
                .saturating_mul(1000),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    /// The fresh entries, newest first: what `get` serves. Expired entries, and entries whose
    /// file was deleted by hand, are dropped on the way.
    pub async fn list(&self) -> Result<Vec<DocEntry>, OrchestratorError> {
        let now = now_ms();
        let (fresh, expired): (Vec<_>, Vec<_>) = self
            .ledger
            .docs()
            .await?
            .into_iter()
            .partition(|e| e.expires_at > now);
        self.remove(&expired).await?;
        let mut listed = Vec::with_capacity(fresh.len());
        let mut gone = Vec::new();
        for entry in fresh {
            match tokio::fs::try_exists(self.dir.join(&entry.file)).await {
                Ok(false) => gone.push(Op::DeleteDoc(entry.url)),
                // Present, or unknowable (kept: `get` says what is wrong when asked).
                _ => listed.push(entry),
            }
        }
        if !gone.is_empty() {
            self.ledger.commit(gone).await?;
        }
        Ok(listed)
    }

    /// The fresh page cached for `url`, if any.
    pub async fn get(&self, url: &str) -> Result<Option<CachedPage>, OrchestratorError> {
        let Some(entry) = self.ledger.doc(url).await? else {
            return Ok(None);
        };
        if entry.expires_at <= now_ms() {
            self.remove(std::slice::from_ref(&entry)).await?;
            return Ok(None);
        }
        match tokio::fs::read_to_string(self.dir.join(&entry.file)).await {
            Ok(content) => Ok(Some(CachedPage { entry, content })),
            // Someone deleted the file: the entry is gone too.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.ledger.commit(vec![Op::DeleteDoc(entry.url)]).await?;
                Ok(None)
            }
            Err(e) => Err(OrchestratorError::ToolFailed(format!(
                "cannot read the cached copy of {url} ({}): {e}",
                self.dir.join(&entry.file).display()
            ))),
        }
    }

    /// Stores `content` for `url` (replacing an older copy) and returns its entry.
    pub async fn put(
        &self,
        url: &str,
        title: Option<String>,
        content_type: &str,
        content: &str,
    ) -> Result<DocEntry, OrchestratorError> {
        let file = file_name(url, content_type);
        let io_error = |what: &str, e: std::io::Error| {
            OrchestratorError::ToolFailed(format!(
                "cannot {what} the docs cache at {}: {e}",
                self.dir.display()
            ))
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| io_error("create", e))?;
        // Write then rename, so a reader never sees half a page; a temp file per writer, so
        // two fetches of one URL at once do not rename each other's file away.
        let tmp = self.dir.join(format!(
            ".{file}.{:016x}.tmp",
            crate::orchestrator::ids::random_u64()
        ));
        tokio::fs::write(&tmp, content)
            .await
            .map_err(|e| io_error("write to", e))?;
        if let Err(e) = tokio::fs::rename(&tmp, self.dir.join(&file)).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io_error("write to", e));
        }
        let now = now_ms();
        let entry = DocEntry {
            url: url.to_string(),
            file,
            title,
            content_type: content_type.to_string(),
            bytes: content.len() as u64,
            fetched_at: now,
            expires_at: now.saturating_add(self.ttl_ms),
        };
        self.ledger.commit(vec![Op::PutDoc(entry.clone())]).await?;
        Ok(entry)
    }

    /// Removes the entry of `url`, or every entry when `url` is `None`.
    pub async fn clear(&self, url: Option<&str>) -> Result<Cleared, OrchestratorError> {
        let entries = match url {
            Some(url) => self.ledger.doc(url).await?.into_iter().collect(),
            None => self.ledger.docs().await?,
        };
        let cleared = Cleared {
            entries: entries.len(),
            bytes: entries.iter().map(|e| e.bytes).sum(),
        };
        self.remove(&entries).await?;
        Ok(cleared)
    }

    /// Deletes the entries' rows, then their files.
    async fn remove(&self, entries: &[DocEntry]) -> Result<(), OrchestratorError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.ledger
            .commit(
                entries
                    .iter()
                    .map(|e| Op::DeleteDoc(e.url.clone()))
                    .collect(),
            )
            .await?;
        for entry in entries {
            // Only names we made are deleted, and only inside the cache directory.
            if is_cache_file_name(&entry.file) {
                let _ = tokio::fs::remove_file(self.dir.join(&entry.file)).await;
            }
        }
        Ok(())
    }
}

/// A file name for `url`, safe on any file system: host and path slug for humans, a hash of
/// the whole URL for uniqueness, at most ~110 characters.
pub fn file_name(url: &str, content_type: &str) -> String {
    let (host, rest) = match reqwest::Url::parse(url) {
        Ok(u) => (
            u.host_str().unwrap_or("page").to_string(),
            format!(
                "{}{}",
                u.path(),
                u.query().map(|q| format!("?{q}")).unwrap_or_default()
            ),
        ),
        Err(_) => ("page".to_string(), url.to_string()),
    };
    let host = slug(&host, 50, true);
    let path = slug(&rest, 50, false);
    let ext = match content_type {
        "json" => "json",
        "xml" => "xml",
        "text" => "txt",
        _ => "md",
    };
    let hash = crate::orchestrator::ids::stable_hash(url.as_bytes());
    if path.is_empty() {
        format!("{host}_{hash:016x}.{ext}")
    } else {
        format!("{host}_{path}_{hash:016x}.{ext}")
    }
}

fn slug(text: &str, max: usize, keep_dots: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        let keep = c.is_ascii_alphanumeric() || (keep_dots && (c == '.' || c == '-'));
        if keep {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    out.trim_matches(['-', '.']).to_string()
}

fn is_cache_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// When an entry of the cache stops being served.
pub fn expires_in(entry: &DocEntry, now: Millis) -> u64 {
    entry.expires_at.saturating_sub(now) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::events::EventBus;
    use crate::orchestrator::ledger::OpenOptions;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn puts_of_one_url_at_once_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(
            OpenOptions::new(dir.path().join("l.db")),
            EventBus::new(64, 65_536),
        )
        .unwrap();
        let cache = DocCache {
            ledger: &ledger,
            dir: dir.path().join("docs"),
            ttl_ms: 60_000,
        };
        let url = "https://docs.example/page";
        let pages: Vec<String> = (0..8).map(|i| format!("page {i}")).collect();
        let puts = pages
            .iter()
            .map(|p| cache.put(url, None, "markdown", p.as_str()));
        for r in futures::future::join_all(puts).await {
            r.unwrap();
        }
        let got = cache.get(url).await.unwrap().unwrap();
        assert!(pages.contains(&got.content), "{}", got.content);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("docs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "one file, no temp files left: {left:?}");

        // A file deleted by hand: `list` no longer shows what `get` cannot serve.
        assert_eq!(cache.list().await.unwrap().len(), 1);
        std::fs::remove_file(dir.path().join("docs").join(&got.entry.file)).unwrap();
        assert!(cache.list().await.unwrap().is_empty());
        assert!(cache.get(url).await.unwrap().is_none());
    }

    #[test]
    fn file_names_are_safe_and_distinct_for_any_url() {
        let urls = [
            "https://docs.rs/tokio/latest/tokio/",
            "https://docs.rs/tokio/latest/tokio/?search=spawn",
            "https://docs.rs/tokio/latest/tokio",
            "http://[::1]:8080/a b/../c?q=\"x\"&y=<z>",
            "https://例え.jp/パス/ファイル",
            "not a url at all / \\ : * ? \" < > |",
            &format!("https://x.org/{}", "a/".repeat(500)),
        ];
        let mut names: Vec<String> = urls.iter().map(|u| file_name(u, "markdown")).collect();
        for name in &names {
            assert!(is_cache_file_name(name), "{name}");
            assert!(name.len() <= 130, "{name}");
            assert!(name.ends_with(".md"));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), urls.len());
        assert_eq!(
            file_name("https://docs.rs/tokio/latest/tokio/", "markdown"),
            file_name("https://docs.rs/tokio/latest/tokio/", "markdown"),
        );
        assert!(file_name("https://api.x/v1", "json").ends_with(".json"));
        assert!(file_name("https://docs.rs/serde", "markdown").starts_with("docs.rs_serde_"));
    }
}
