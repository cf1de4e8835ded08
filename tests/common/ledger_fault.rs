//! A ledger that refuses some writes, as a full or failing disk would: a trigger, added through
//! a second connection to the server's own database, aborts the matching rows' writes with a
//! real SQLite error, until `heal` drops it. The server's code runs unchanged.

use std::time::Duration;

use rusqlite::Connection;
use serde_json::json;

use super::Client;

pub struct LedgerFault {
    conn: Connection,
    table: String,
}

impl LedgerFault {
    /// From now on, writing a row of `table` for which `when` holds (SQL over `NEW`) fails.
    pub async fn install(client: &mut Client, table: &str, when: &str) -> Self {
        let stats = client.ok("orchestrator/stats", json!({})).await;
        let path = stats["ledgerPath"]
            .as_str()
            .expect("stats names the ledger");
        let conn = Connection::open(path).expect("open the ledger");
        conn.busy_timeout(Duration::from_secs(10))
            .expect("busy timeout");
        for op in ["INSERT", "UPDATE"] {
            conn.execute_batch(&format!(
                "CREATE TRIGGER test_fault_{table}_{op} BEFORE {op} ON {table} WHEN {when} \
                 BEGIN SELECT RAISE(ABORT, 'injected write failure'); END;"
            ))
            .expect("add the trigger");
        }
        Self {
            conn,
            table: table.to_string(),
        }
    }

    /// Writes succeed again.
    pub fn heal(self) {
        for op in ["INSERT", "UPDATE"] {
            self.conn
                .execute_batch(&format!("DROP TRIGGER test_fault_{}_{op};", self.table))
                .expect("drop the trigger");
        }
    }
}
