//! Missions and their journals. A mission's record is stored whole as JSON (the missions
//! module owns its shape); the journal is append-only, one row per thing that happened.

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Ledger, LedgerError, clamp_i64, sql};
use crate::orchestrator::task::Millis;

/// A mission as stored: the indexed columns and the encoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionRow {
    pub id: String,
    pub session_id: String,
    pub status: String,
    pub created_at: Millis,
    /// The whole record, JSON.
    pub body: String,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Ascending across all missions; a cursor for paging.
    pub seq: i64,
    #[serde(skip)]
    pub mission_id: String,
    pub time: Millis,
    pub kind: String,
    pub text: String,
    pub data: serde_json::Value,
}

/// A journal entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalDraft {
    pub mission_id: String,
    pub kind: String,
    pub text: String,
    pub data: serde_json::Value,
}

pub(super) fn put(conn: &Connection, row: &MissionRow) -> Result<(), LedgerError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO missions (id, session_id, status, created_at, body) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(rusqlite::params![
            row.id,
            row.session_id,
            row.status,
            clamp_i64(row.created_at),
            row.body
        ])
    })
    .map_err(sql("saving a mission"))?;
    Ok(())
}

pub(super) fn append(
    conn: &Connection,
    entry: &JournalDraft,
    time: Millis,
) -> Result<(), LedgerError> {
    let data = serde_json::to_string(&entry.data).map_err(|source| LedgerError::Encode {
        what: "a journal entry".into(),
        source,
    })?;
    conn.prepare_cached(
        "INSERT INTO mission_journal (mission_id, time, kind, text, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(rusqlite::params![
            entry.mission_id,
            clamp_i64(time),
            entry.kind,
            entry.text,
            data
        ])
    })
    .map_err(sql("appending to a mission journal"))?;
    Ok(())
}

fn mission_row(row: &Row<'_>) -> rusqlite::Result<MissionRow> {
    Ok(MissionRow {
        id: row.get(0)?,
        session_id: row.get(1)?,
        status: row.get(2)?,
        created_at: row.get::<_, i64>(3)?.max(0) as u64,
        body: row.get(4)?,
    })
}

fn list(
    conn: &Connection,
    statuses: &[String],
    limit: usize,
) -> Result<Vec<MissionRow>, LedgerError> {
    let mut st = conn
        .prepare_cached(
            "SELECT id, session_id, status, created_at, body FROM missions \
             ORDER BY created_at DESC, id DESC",
        )
        .map_err(sql("listing missions"))?;
    let rows = st
        .query_map([], mission_row)
        .map_err(sql("listing missions"))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(sql("listing missions"))?;
        if statuses.is_empty() || statuses.contains(&row.status) {
            out.push(row);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

fn one(conn: &Connection, id: &str) -> Result<Option<MissionRow>, LedgerError> {
    conn.prepare_cached(
        "SELECT id, session_id, status, created_at, body FROM missions WHERE id = ?1",
    )
    .and_then(|mut st| st.query_row([id], mission_row).optional())
    .map_err(sql("reading a mission"))
}

fn journal(
    conn: &Connection,
    mission_id: &str,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<JournalEntry>, LedgerError> {
    let mut st = conn
        .prepare_cached(
            "SELECT id, time, kind, text, data FROM mission_journal \
             WHERE mission_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )
        .map_err(sql("reading a mission journal"))?;
    let rows = st
        .query_map(
            rusqlite::params![mission_id, after_seq, clamp_i64(limit as u64)],
            |r| {
                let data: String = r.get(4)?;
                Ok(JournalEntry {
                    seq: r.get(0)?,
                    mission_id: mission_id.to_string(),
                    time: r.get::<_, i64>(1)?.max(0) as u64,
                    kind: r.get(2)?,
                    text: r.get(3)?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                })
            },
        )
        .map_err(sql("reading a mission journal"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("reading a mission journal"))
}

impl Ledger {
    /// Missions, newest first; only those with one of `statuses` when it is not empty.
    pub async fn missions(
        &self,
        statuses: Vec<String>,
        limit: usize,
    ) -> Result<Vec<MissionRow>, LedgerError> {
        self.read("listing missions", move |conn| list(conn, &statuses, limit))
            .await
    }

    pub async fn mission(&self, id: &str) -> Result<Option<MissionRow>, LedgerError> {
        let id = id.to_owned();
        self.read("reading a mission", move |conn| one(conn, &id))
            .await
    }

    /// Up to `limit` journal entries of a mission after `after_seq`, oldest first.
    pub async fn journal(
        &self,
        mission_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, LedgerError> {
        let mission_id = mission_id.to_owned();
        self.read("reading a mission journal", move |conn| {
            journal(conn, &mission_id, after_seq, limit)
        })
        .await
    }
}

/// Reading missions from a ledger another process owns (the `missions` command): a read-only
/// connection, no recovery, no writes.
pub struct ReadOnlyMissions {
    conn: Connection,
}

impl ReadOnlyMissions {
    pub fn open(path: &std::path::Path) -> Result<Self, LedgerError> {
        let fail = |e: rusqlite::Error| LedgerError::Open {
            path: path.to_path_buf(),
            op: "opening it read-only",
            source: e.into(),
        };
        if !path.exists() {
            return Err(LedgerError::Open {
                path: path.to_path_buf(),
                op: "opening it read-only",
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no ledger here yet: no mission or task has run in this workspace",
                )
                .into(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        Ok(Self { conn })
    }

    pub fn missions(&self, limit: usize) -> Result<Vec<MissionRow>, LedgerError> {
        list(&self.conn, &[], limit)
    }

    pub fn mission(&self, id: &str) -> Result<Option<MissionRow>, LedgerError> {
        one(&self.conn, id)
    }

    pub fn journal(&self, id: &str) -> Result<Vec<JournalEntry>, LedgerError> {
        journal(&self.conn, id, 0, 10_000)
    }
}
