//! The ledger's tables, and bringing an older ledger file up to this build's schema.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::LedgerError;

/// The schema this build writes. A ledger with a newer version is refused, never guessed at.
pub const SCHEMA_VERSION: i64 = 3;

/// Version 1: tasks, events and the notice outbox.
const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE tasks (
    id                TEXT PRIMARY KEY CHECK (length(id) > 0),
    parent_session_id TEXT,
    status            TEXT NOT NULL CHECK (status IN
        ('queued','running','completed','failed','cancelled','timed_out','interrupted')),
    agent             TEXT NOT NULL,
    session_id        TEXT,
    created_at        INTEGER NOT NULL,
    body              TEXT NOT NULL
);
CREATE INDEX tasks_created ON tasks (created_at, id);
CREATE INDEX tasks_parent ON tasks (parent_session_id, created_at, id);
CREATE INDEX tasks_status ON tasks (status, created_at, id);
CREATE INDEX tasks_agent ON tasks (agent, created_at, id);
CREATE INDEX tasks_session ON tasks (session_id, created_at, id);
CREATE TABLE events (
    seq  INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    type TEXT NOT NULL CHECK (length(type) > 0),
    data TEXT NOT NULL
);
CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_session_id TEXT NOT NULL,
    task_id           TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending','delivered','evicted')),
    delivered_at      INTEGER
);
-- De-duplicates pending notices and serves every pending-notice lookup.
CREATE UNIQUE INDEX outbox_pending ON outbox (parent_session_id, task_id) WHERE state = 'pending';
";

/// Each later version's changes, applied in order to a ledger of the version before.
const MIGRATIONS: [(i64, &str); 2] = [
    (
        2,
        "
-- The docs cache index (webfetch / cache_docs); the pages are files under .opencode/docs/.
CREATE TABLE docs (
    url          TEXT PRIMARY KEY,
    file         TEXT NOT NULL,
    title        TEXT,
    content_type TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    fetched_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX docs_expires ON docs (expires_at);
",
    ),
    (
        3,
        "
-- Missions (/task): the record whole as JSON, plan included; the journal is append-only.
CREATE TABLE missions (
    id         TEXT PRIMARY KEY CHECK (length(id) > 0),
    session_id TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX missions_session ON missions (session_id, created_at);
CREATE INDEX missions_created ON missions (created_at, id);
CREATE TABLE mission_journal (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    mission_id TEXT NOT NULL,
    time       INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    text       TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX mission_journal_mission ON mission_journal (mission_id, id);
",
    ),
];

pub(super) fn ensure_schema(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    let fail = |op: &'static str| {
        move |e: rusqlite::Error| LedgerError::Open {
            path: path.to_path_buf(),
            op,
            source: e.into(),
        }
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail("reading the schema"))?;
    let tables: Vec<String> = tx
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(fail("reading the schema"))?;

    if tables.iter().any(|t| t == "meta") {
        let version: Option<Value> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(fail("reading the schema version"))?;
        let version = match version {
            Some(Value::Integer(v)) => Some(v),
            Some(Value::Text(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match version {
            Some(found) if found > SCHEMA_VERSION => {
                return Err(LedgerError::SchemaTooNew {
                    path: path.to_path_buf(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(found) if found >= 1 => {
                migrate(&tx, found).map_err(fail("migrating the schema"))?
            }
            other => {
                return Err(LedgerError::Corrupt {
                    what: format!("schema version in {}", path.display()),
                    detail: format!("expected 1 to {SCHEMA_VERSION}, found {other:?}"),
                });
            }
        }
    } else if !tables.is_empty() {
        // Someone else's database: adding our tables to it would only make a mess.
        return Err(LedgerError::Corrupt {
            what: format!("ledger file {}", path.display()),
            detail: format!(
                "a SQLite database without a ledger schema (tables: {})",
                tables.join(", ")
            ),
        });
    } else {
        tx.execute_batch(SCHEMA)
            .map_err(fail("creating the schema"))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
            [],
        )
        .map_err(fail("creating the schema"))?;
        migrate(&tx, 1).map_err(fail("creating the schema"))?;
    }
    tx.commit().map_err(fail("creating the schema"))
}

/// Applies every migration past `from`, in the caller's transaction, and records the version.
fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    for (version, statements) in MIGRATIONS {
        if version > from {
            conn.execute_batch(statements)?;
            conn.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                [version.to_string()],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_ledger_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tasks (id, status, agent, created_at, body) \
             VALUES ('t1', 'completed', 'builder', 1, '{}')",
            [],
        )
        .unwrap();
        ensure_schema(&mut conn, &path).unwrap();
        let version: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        let docs: i64 = conn
            .query_row("SELECT count(*) FROM docs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(docs, 0);
        let tasks: i64 = conn
            .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tasks, 1, "existing rows survive the migration");
        // Opening again is a no-op.
        ensure_schema(&mut conn, &path).unwrap();
    }
}
