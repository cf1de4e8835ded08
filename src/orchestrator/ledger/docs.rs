//! The docs cache index: one row per cached page. The pages themselves are files the
//! cache_docs tool owns; the ledger only says which file holds which URL, and until when.

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Ledger, LedgerError, clamp_i64, sql};
use crate::orchestrator::task::Millis;

/// One cached page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocEntry {
    pub url: String,
    /// The file's name inside the cache directory.
    pub file: String,
    pub title: Option<String>,
    /// What the file holds: `markdown`, `json`, `xml` or `text`.
    pub content_type: String,
    pub bytes: u64,
    pub fetched_at: Millis,
    pub expires_at: Millis,
}

const COLUMNS: &str = "url, file, title, content_type, bytes, fetched_at, expires_at";

fn entry(row: &Row<'_>) -> rusqlite::Result<DocEntry> {
    Ok(DocEntry {
        url: row.get(0)?,
        file: row.get(1)?,
        title: row.get(2)?,
        content_type: row.get(3)?,
        bytes: row.get::<_, i64>(4)?.max(0) as u64,
        fetched_at: row.get::<_, i64>(5)?.max(0) as u64,
        expires_at: row.get::<_, i64>(6)?.max(0) as u64,
    })
}

pub(super) fn put(conn: &Connection, doc: &DocEntry) -> Result<(), LedgerError> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO docs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))
    .and_then(|mut st| {
        st.execute(rusqlite::params![
            doc.url,
            doc.file,
            doc.title,
            doc.content_type,
            clamp_i64(doc.bytes),
            clamp_i64(doc.fetched_at),
            clamp_i64(doc.expires_at),
        ])
    })
    .map_err(sql("saving a docs cache entry"))?;
    Ok(())
}

pub(super) fn delete(conn: &Connection, url: &str) -> Result<(), LedgerError> {
    conn.prepare_cached("DELETE FROM docs WHERE url = ?1")
        .and_then(|mut st| st.execute([url]))
        .map_err(sql("deleting a docs cache entry"))?;
    Ok(())
}

impl Ledger {
    /// Every docs cache entry, newest first.
    pub async fn docs(&self) -> Result<Vec<DocEntry>, LedgerError> {
        self.read("listing the docs cache", |conn| {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM docs ORDER BY fetched_at DESC, url"
                ))
                .map_err(sql("listing the docs cache"))?;
            st.query_map([], entry)
                .and_then(|rows| rows.collect())
                .map_err(sql("listing the docs cache"))
        })
        .await
    }

    /// The docs cache entry for `url`, fresh or not.
    pub async fn doc(&self, url: &str) -> Result<Option<DocEntry>, LedgerError> {
        let url = url.to_owned();
        self.read("reading the docs cache", move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM docs WHERE url = ?1"))
                .and_then(|mut st| st.query_row([&url], entry).optional())
                .map_err(sql("reading the docs cache"))
        })
        .await
    }
}
