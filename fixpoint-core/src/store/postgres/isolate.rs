//! One bad write stands alone: a batch the server refused for its *data* is applied again in
//! one transaction, split under savepoints until each write the server refuses stands alone.
//! That write is refused ([`StoreError::Rejected`]); every other write lands, in order, in the
//! one commit. An error that is not the data's (the connection lost, the server restarting, a
//! lock timeout) rolls the whole transaction back, and the batch is retried whole as before.
//!
//! The server says which is which: the SQLSTATE's class, never the message's words.

use deadpool_postgres::tokio_postgres::{self, error::SqlState};

use super::{Batch, PostgresStore, backend, refusal, with_causes};
use crate::Lifecycle;
use crate::store::{Refused, RowWrite, StoreError};

/// Whether the server refused a statement for the data it writes: a data exception (class
/// 22: a NUL byte, text in a bad encoding, a value out of range), an integrity constraint
/// (class 23: `CHECK`, `NOT NULL`, a key), a program limit (class 54: a value too large), or a
/// trigger's `RAISE EXCEPTION` (P0001). Connection errors carry no SQLSTATE; class 08
/// (connection), 40 (a deadlock, a serialization failure), 53 (resources), 55 (a lock not
/// available) and 57 (the server shutting down) are transient.
pub(super) fn refuses_data(error: &tokio_postgres::Error) -> bool {
    let Some(state) = error.code() else {
        return false;
    };
    matches!(state.code().get(..2), Some("22" | "23" | "54")) || *state == SqlState::RAISE_EXCEPTION
}

impl<L: Lifecycle> PostgresStore<L> {
    /// Applies `writes` in one transaction, each run of them under a savepoint, halving a run
    /// the server refuses for its data until the refused writes stand alone.
    pub(super) async fn apply_isolating(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> Result<Refused, StoreError> {
        let mut client = self.client().await?;
        let statement = client
            .prepare_cached(&self.sql.apply)
            .await
            .map_err(backend)?;
        let mut transaction = client.transaction().await.map_err(backend)?;
        let mut refused = Vec::new();
        // In order: the left half of a split run goes first, so each row's writes keep theirs.
        let mut runs = Vec::with_capacity(8);
        runs.push(0..writes.len());
        while let Some(run) = runs.pop() {
            let part = &writes[run.clone()];
            let batch = Batch::new(part);
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                [&owner, &batch.ids, &batch.froms, &batch.tos, &batch.reasons];
            let savepoint = transaction
                .savepoint("fixpoint_isolate")
                .await
                .map_err(backend)?;
            match savepoint.query(&statement, &params).await {
                Ok(rows) => {
                    savepoint.commit().await.map_err(backend)?;
                    for row in &rows {
                        let (index, error) = refusal(row, owner, part)?;
                        refused.push((run.start + index, error));
                    }
                }
                Err(error) if refuses_data(&error) => {
                    savepoint.rollback().await.map_err(backend)?;
                    if let [write] = part {
                        refused.push((run.start, rejected(write.id(), &error)));
                    } else {
                        let middle = run.start + part.len() / 2;
                        runs.push(middle..run.end);
                        runs.push(run.start..middle);
                    }
                }
                // Dropping the transaction rolls it back: none of the batch applied.
                Err(error) => return Err(backend(error)),
            }
        }
        transaction.commit().await.map_err(backend)?;
        refused.sort_by_key(|&(index, _)| index);
        Ok(refused)
    }
}

fn rejected(id: &str, error: &tokio_postgres::Error) -> StoreError {
    let cause = with_causes(error);
    #[cfg(feature = "tracing")]
    tracing::error!(task = id, %cause, "PostgreSQL refused a status write for its data; the rest of the batch applies");
    StoreError::Rejected {
        id: id.to_owned(),
        cause,
    }
}
