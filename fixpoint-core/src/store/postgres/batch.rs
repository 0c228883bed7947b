//! A batch of writes as `<table>_apply` takes it (one array per column), and what the rows it
//! returns mean: the writes it refused.

use deadpool_postgres::tokio_postgres;

use super::backend;
use crate::Lifecycle;
use crate::store::{RowChange, RowWrite, StoreError};

/// A batch as the columns `<table>_apply` takes: a transition has `from` and `to`, an insert
/// `to` alone (the initial state), a reason neither.
pub(super) struct Batch<'a> {
    pub(super) ids: Vec<&'a str>,
    pub(super) froms: Vec<Option<&'static str>>,
    pub(super) tos: Vec<Option<&'static str>>,
    pub(super) reasons: Vec<Option<&'a str>>,
}

impl<'a> Batch<'a> {
    pub(super) fn new<L: Lifecycle>(writes: &'a [RowWrite<L>]) -> Self {
        let mut batch = Batch {
            ids: Vec::with_capacity(writes.len()),
            froms: Vec::with_capacity(writes.len()),
            tos: Vec::with_capacity(writes.len()),
            reasons: Vec::with_capacity(writes.len()),
        };
        for write in writes {
            batch.ids.push(write.id());
            let (from, to, reason) = match write.change() {
                RowChange::Insert => (None, Some(L::initial().name()), None),
                RowChange::Transition(step) => {
                    (Some(step.from().name()), Some(step.to().name()), None)
                }
                RowChange::Reason(text) => (None, None, Some(text.as_str())),
            };
            batch.froms.push(from);
            batch.tos.push(to);
            batch.reasons.push(reason);
        }
        batch
    }
}

/// Why the write `<table>_apply` returned changed nothing: the row is missing, another
/// owner's, or in another state.
pub(super) fn refusal<L: Lifecycle>(
    row: &tokio_postgres::Row,
    owner: &str,
    writes: &[RowWrite<L>],
) -> Result<(usize, StoreError), StoreError> {
    let index: i32 = row.try_get(0).map_err(backend)?;
    let found_owner: Option<String> = row.try_get(1).map_err(backend)?;
    let found_status: Option<String> = row.try_get(2).map_err(backend)?;
    let position = usize::try_from(index)
        .ok()
        .filter(|&position| position < writes.len())
        .ok_or_else(|| {
            StoreError::Backend(format!(
                "the server refused write {index}, not in the batch"
            ))
        })?;
    let write = &writes[position];
    let id = write.id().to_owned();
    let error = match (found_owner, write.change()) {
        (_, RowChange::Insert) => StoreError::IdTaken {
            id,
            status: found_status.unwrap_or_default(),
        },
        (None, _) => StoreError::NotFound { id },
        (Some(found), _) if found != owner => StoreError::Fenced { id, owner: found },
        (Some(_), RowChange::Transition(step)) => StoreError::Conflict {
            id,
            expected: step.from().name(),
            found: found_status.unwrap_or_default(),
        },
        (Some(_), RowChange::Reason(_)) => {
            StoreError::Backend(format!("row `{id}` was not updated"))
        }
    };
    Ok((position, error))
}
