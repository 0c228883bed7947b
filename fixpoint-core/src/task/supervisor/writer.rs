//! The writer that applies the tasks' writes to the store in ordered batches, and the
//! maintenance loop that keeps the lease and prunes finished rows on its own cadence.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Config;
use super::children::{Child, Children};
use super::report::Counters;
use crate::lifecycle::{Event, Lifecycle};
use crate::task::store::{RowWrite, StatusStore, StoreError};

/// What the writer applies, in the order the tasks produced it.
pub(crate) enum Queued<L> {
    /// A write, and the child it belongs to (fenced if the store refuses it as not ours).
    Write(RowWrite<L>, Option<Arc<Child<L>>>),
    /// Answered once every write queued before it is applied, or with the store's error
    /// while they cannot be.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// The most writes applied as one batch (one transaction in SQL stores).
const BATCH: usize = 1024;

/// Applies the queued writes in order, batch by batch; ends when every sender is gone and
/// the queue is applied. A batch the store fails is retried whole, after a backoff.
pub(super) async fn write_loop<L: Lifecycle, S: StatusStore<L>>(
    store: Arc<S>,
    owner: Arc<str>,
    mut queue: mpsc::UnboundedReceiver<Queued<L>>,
    children: Arc<Children<L>>,
) {
    let mut pending = VecDeque::new();
    let mut incoming = Vec::with_capacity(BATCH);
    let mut backoff = Duration::ZERO;
    loop {
        if backoff.is_zero() {
            if queue.recv_many(&mut incoming, BATCH).await == 0 && pending.is_empty() {
                return;
            }
        } else {
            tokio::time::sleep(backoff).await;
            while incoming.len() < BATCH {
                let Ok(queued) = queue.try_recv() else { break };
                incoming.push(queued);
            }
        }
        pending.extend(incoming.drain(..));
        backoff = match drain(&*store, &owner, &mut pending, &children.counters).await {
            Ok(()) => Duration::ZERO,
            Err(()) => next_backoff(backoff),
        };
    }
}

fn next_backoff(previous: Duration) -> Duration {
    (previous * 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Applies `pending` from the front: runs of writes as batches, flushes answered in between.
/// On a store failure the failed batch stays at the front, and the flushes behind it learn
/// the error now rather than wait for a store that may not come back.
async fn drain<L: Lifecycle, S: StatusStore<L>>(
    store: &S,
    owner: &str,
    pending: &mut VecDeque<Queued<L>>,
    counters: &Counters,
) -> Result<(), ()> {
    let mut batch = Vec::new();
    let mut children = Vec::new();
    loop {
        while let Some(Queued::Flush(_)) = pending.front() {
            if let Some(Queued::Flush(done)) = pending.pop_front() {
                let _ = done.send(Ok(()));
            }
        }
        while batch.len() < BATCH {
            match pending.pop_front() {
                Some(Queued::Write(write, child)) => {
                    batch.push(write);
                    children.push(child);
                }
                Some(flush) => {
                    pending.push_front(flush);
                    break;
                }
                None => break,
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        match store.apply(owner, &batch).await {
            Ok(results) => settle(results, &mut batch, &mut children, counters),
            Err(error) => {
                failed(&error, counters);
                for queued in pending.iter_mut() {
                    if let Queued::Flush(done) = queued {
                        let (closed, _) = oneshot::channel();
                        let _ = std::mem::replace(done, closed).send(Err(error.clone()));
                    }
                }
                // Back to the front, in order, to be retried whole.
                while let (Some(write), Some(child)) = (batch.pop(), children.pop()) {
                    pending.push_front(Queued::Write(write, child));
                }
                return Err(());
            }
        }
    }
}

/// Acts on each write's result: a write refused because the row is another owner's ends
/// the task that made it.
fn settle<L: Lifecycle>(
    results: Vec<Result<(), StoreError>>,
    batch: &mut Vec<RowWrite<L>>,
    children: &mut Vec<Option<Arc<Child<L>>>>,
    counters: &Counters,
) {
    for ((result, _write), child) in results
        .into_iter()
        .zip(batch.drain(..))
        .zip(children.drain(..))
    {
        match result {
            Ok(()) => {}
            Err(StoreError::Fenced { .. }) => {
                if let Some(child) = child.filter(|child| child.fence()) {
                    Counters::add(&counters.fenced, 1);
                    #[cfg(feature = "tracing")]
                    tracing::error!(task = &*child.id, write = ?_write, "the row was adopted by another supervisor: the task is ended and its row left to its new owner");
                    let _ = child;
                }
            }
            Err(error) => failed(&error, counters),
        }
    }
}

fn failed(_error: &StoreError, counters: &Counters) {
    Counters::add(&counters.store_errors, 1);
    #[cfg(feature = "tracing")]
    tracing::error!(error = %_error, "status store write failed");
}

/// Keeps the lease alive and prunes finished rows, each on its own cadence.
pub(super) async fn maintain<L: Lifecycle, S: StatusStore<L>>(
    store: Arc<S>,
    owner: Arc<str>,
    config: Config,
    children: Arc<Children<L>>,
) {
    let counters = &children.counters;
    let start = tokio::time::Instant::now();
    let (mut renew_at, mut prune_at) = (start + config.heartbeat, start + config.prune_every);
    loop {
        tokio::time::sleep_until(renew_at.min(prune_at)).await;
        let now = tokio::time::Instant::now();
        if now >= renew_at {
            if let Err(error) = store.renew_lease(&owner, config.lease_ttl).await {
                failed(&error, counters);
            }
            renew_at = now + config.heartbeat;
        }
        if now >= prune_at {
            match store.prune(config.retention).await {
                Ok(pruned) => Counters::add(&counters.pruned, pruned),
                Err(error) => failed(&error, counters),
            }
            prune_at = now + config.prune_every;
        }
    }
}

#[cfg(feature = "tracing")]
pub(super) fn trace<L: Lifecycle>(id: &str, event: Event<L>) {
    use crate::lifecycle::EventKind;
    match event.kind {
        EventKind::Abandoned(cause) => {
            tracing::warn!(task = id, lifecycle = L::name(), from = event.from.name(), to = event.to.name(), %cause, "task abandoned");
        }
        _ => tracing::info!(
            task = id,
            lifecycle = L::name(),
            from = event.from.name(),
            to = event.to.name(),
            "task transition"
        ),
    }
}

#[cfg(not(feature = "tracing"))]
pub(super) fn trace<L: Lifecycle>(_: &str, _: Event<L>) {}
