//! The writer that applies the tasks' writes to the store in ordered batches, and the
//! maintenance loop that keeps the lease and prunes finished rows on its own cadence.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Config;
use super::lanes::{self, Lane};
use super::queue::{Maker, Queued, Receiver};
use super::report::Counters;
use crate::lifecycle::Lifecycle;
use crate::store::{Refused, RowWrite, StatusStore, StoreError, Transition};

/// The most writes applied as one batch (one transaction in SQL stores).
const BATCH: usize = 1024;

/// How long the writer gathers a burst before applying it, unless a flush or a full batch
/// calls it sooner: the most a transition waits to reach the store.
const LINGER: Duration = Duration::from_millis(1);

/// Applies the queued writes in order, batch by batch; ends when every sender is gone and
/// the queue is applied. A batch the store fails is retried whole, after a backoff.
///
/// The writer only ever talks back through `on_refused`: each write the store refused goes
/// there with the slot of the task that made it, and the supervisor's side decides what that
/// task becomes (see `Children::refused`). The writer never reaches into the tasks' table.
pub(super) fn write_loop<L: Lifecycle, S: StatusStore<L>>(
    runtime: &tokio::runtime::Handle,
    store: &S,
    owner: &str,
    mut queue: Receiver<L>,
    on_refused: &OnRefused<L>,
    counters: &Counters,
) {
    let mut pending = Vec::with_capacity(BATCH);
    let mut batch = Batch::new(store.parallel_batches());
    let mut backoff = Duration::ZERO;
    let context = Context {
        on_refused,
        counters,
    };
    loop {
        if backoff.is_zero() {
            if !queue.recv_all(&mut pending) {
                return; // the sender is gone, and nothing is pending
            }
            // Woken by the first write of a burst: let the tasks that are making the rest run
            // first (a millisecond at most, less for a flush or a full batch), so that one
            // batch (one lock, one transaction) takes them all.
            queue.linger(LINGER);
        } else {
            std::thread::sleep(backoff);
        }
        queue.try_recv_all(&mut pending);
        // The store's futures may need the runtime (its I/O, its timers): drive them with it.
        let drained = runtime.block_on(drain(store, owner, &mut pending, &mut batch, context));
        backoff = match drained {
            Ok(()) => {
                queue.applied();
                Duration::ZERO
            }
            Err(()) => next_backoff(backoff),
        };
    }
}

/// What starts the writer's thread over the queue it is given: the thread drives its loop
/// with the runtime's handle, so that a task that blocks a worker thread (a synchronous call in
/// an async body) cannot hold the writer behind it, or neither its row nor anyone's could be
/// written. The thread is detached: it stops once the queue is closed and applied.
pub(super) fn starter<L: Lifecycle, S: StatusStore<L>>(
    store: Arc<S>,
    owner: Arc<str>,
    on_refused: Arc<OnRefused<L>>,
    counters: Arc<Counters>,
) -> impl Fn(Receiver<L>) -> std::io::Result<()> + Send + Sync + 'static {
    let runtime = tokio::runtime::Handle::current();
    move |queue: Receiver<L>| {
        let (runtime, store, owner) = (runtime.clone(), Arc::clone(&store), Arc::clone(&owner));
        let (on_refused, counters) = (Arc::clone(&on_refused), Arc::clone(&counters));
        std::thread::Builder::new()
            .name("fixpoint-writer".to_owned())
            .spawn(move || {
                write_loop(&runtime, &*store, &owner, queue, &*on_refused, &counters);
            })
            .map(drop)
    }
}

fn next_backoff(previous: Duration) -> Duration {
    (previous * 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Where the writer reports a write the store refused: the slot of the task that made it, the
/// write, and the refusal.
pub(super) type OnRefused<L> = dyn Fn(usize, &RowWrite<L>, StoreError) + Send + Sync;

/// What the writer reaches besides the store: where refusals go, and the counters.
struct Context<'a, L> {
    on_refused: &'a OnRefused<L>,
    counters: &'a Counters,
}

impl<L> Clone for Context<'_, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for Context<'_, L> {}

/// The writes of one batch, split into lanes by row, and who made each.
struct Batch<L> {
    /// One per batch the store applies at once ([`StatusStore::parallel_batches`]): a row's
    /// writes always take the same lane, so they reach the store in order whichever lane
    /// commits first.
    lanes: Vec<Lane<L>>,
    /// Writes made for rows while their insert was queued, released by its commit (with the
    /// slot of the task that made them): applied before anything queued after the insert,
    /// a flush included.
    released: VecDeque<(RowWrite<L>, usize)>,
}

impl<L> Batch<L> {
    fn new(lanes: usize) -> Self {
        let lanes = (0..lanes.clamp(1, MAX_LANES))
            .map(|_| Lane {
                writes: Vec::with_capacity(BATCH),
                makers: Vec::with_capacity(BATCH),
            })
            .collect();
        Batch {
            lanes,
            released: VecDeque::new(),
        }
    }

    /// Adds a write to its row's lane; `true` once that lane is full.
    fn push(&mut self, write: RowWrite<L>, maker: Maker<L>) -> bool {
        let count = self.lanes.len();
        let lane = if count == 1 {
            &mut self.lanes[0]
        } else {
            &mut self.lanes[lanes::lane_of(write.id(), count)]
        };
        lane.writes.push(write);
        lane.makers.push(maker);
        lane.writes.len() == BATCH
    }

    fn is_full(&self) -> bool {
        self.lanes.iter().any(|lane| lane.writes.len() >= BATCH)
    }
}

/// The most lanes a batch is split into, whatever the store says.
const MAX_LANES: usize = 8;

/// Applies `pending` in order: runs of writes as batches, flushes answered in between. On a
/// store failure, what was not applied stays in `pending`, in order, and the flushes in it
/// learn the error now rather than wait for a store that may not come back.
async fn drain<L: Lifecycle, S: StatusStore<L>>(
    store: &S,
    owner: &str,
    pending: &mut Vec<Queued<L>>,
    batch: &mut Batch<L>,
    context: Context<'_, L>,
) -> Result<(), ()> {
    let mut queued = pending.drain(..);
    let mut flush = None;
    loop {
        // Writes a commit released go first: they were made before anything still queued.
        while !batch.is_full()
            && let Some((write, slot)) = batch.released.pop_front()
        {
            batch.push(write, Maker::Task(slot));
        }
        if batch.released.is_empty() && flush.is_none() && !batch.is_full() {
            for item in queued.by_ref() {
                match item {
                    Queued::Write(write, maker) => {
                        if batch.push(write, maker) {
                            break;
                        }
                    }
                    Queued::Flush(done) => {
                        flush = Some(done);
                        break;
                    }
                }
            }
        }
        let applied = lanes::apply_all(store, owner, &batch.lanes).await;
        let mut failed = None;
        for (lane, applied) in batch.lanes.iter_mut().zip(applied) {
            match applied {
                Ok(refused) => settle(refused, lane, &mut batch.released, context),
                Err(error) => {
                    context.counters.note_failed(&error);
                    failed = Some(error);
                }
            }
        }
        if let Some(error) = failed {
            let rest: Vec<_> = queued.collect();
            // The writes of running tasks are retried; an insert is refused now, with the
            // store's error: its task has not started, so nothing is lost, and its caller
            // learns (a full disk, a server gone) at once rather than wait on a retry. (The
            // lanes that applied were settled: each row's writes are in one lane.)
            for lane in &mut batch.lanes {
                for (write, maker) in lane.writes.drain(..).zip(lane.makers.drain(..)) {
                    match maker {
                        Maker::Insert(task) => task.refused(error.clone()),
                        maker => pending.push(Queued::Write(write, maker)),
                    }
                }
            }
            let released = batch.released.drain(..);
            pending.extend(released.map(|(write, slot)| Queued::Write(write, Maker::Task(slot))));
            pending.extend(flush.map(Queued::Flush));
            pending.extend(rest);
            for item in pending.iter_mut() {
                if let Queued::Flush(done) = item {
                    let (answered, _) = oneshot::channel();
                    let _ = std::mem::replace(done, answered).send(Err(error.clone()));
                }
            }
            return Err(());
        }
        if !batch.released.is_empty() {
            continue;
        }
        match flush.take() {
            Some(done) => drop(done.send(Ok(()))),
            None if queued.len() == 0 => return Ok(()),
            None => {}
        }
    }
}

/// Tells each write's maker what the store did with it: a refused write goes to
/// `on_refused`, an insert's task learns that its row committed (releasing the writes made
/// for it meanwhile into `released`) or was refused.
fn settle<L: Lifecycle>(
    mut refused: Refused,
    lane: &mut Lane<L>,
    released: &mut VecDeque<(RowWrite<L>, usize)>,
    context: Context<'_, L>,
) {
    refused.sort_unstable_by_key(|&(index, _)| index);
    let mut refused = refused.into_iter().peekable();
    let writes = lane.writes.drain(..).zip(lane.makers.drain(..));
    for (index, (write, maker)) in writes.enumerate() {
        let refusal = refused
            .next_if(|&(at, _)| at == index)
            .map(|(_, error)| error);
        match (maker, refusal) {
            (Maker::Task(_), None) => {}
            (Maker::Task(slot), Some(error)) => (context.on_refused)(slot, &write, error),
            (Maker::Insert(task), None) => released.extend(task.committed()),
            (Maker::Insert(task), Some(error)) => task.refused(error),
        }
    }
}

/// Keeps the lease alive and prunes finished rows, each on its own cadence; on each heartbeat
/// also reaps what dead owners left: their expired leases, and (with `end_orphans`) their
/// unfinished rows.
pub(super) async fn maintain<L: Lifecycle, S: StatusStore<L>>(
    store: Arc<S>,
    owner: Arc<str>,
    config: Config,
    counters: Arc<Counters>,
) {
    let counters = &*counters;
    let start = tokio::time::Instant::now();
    let (mut renew_at, mut prune_at) = (start + config.heartbeat, start + config.prune_every);
    let mut ending = Vec::new();
    loop {
        tokio::time::sleep_until(renew_at.min(prune_at)).await;
        let now = tokio::time::Instant::now();
        if now >= renew_at {
            if let Err(error) = store.renew_lease(&owner, config.lease_ttl).await {
                counters.note_failed(&error);
            }
            reap(&*store, &owner, config, counters, &mut ending).await;
            renew_at = now + config.heartbeat;
        }
        if now >= prune_at {
            match store.prune(config.retention).await {
                Ok(pruned) => Counters::add(&counters.pruned, pruned),
                Err(error) => counters.note_failed(&error),
            }
            prune_at = now + config.prune_every;
        }
    }
}

/// One heartbeat's reaping: dead owners' leases, and their orphans. `ending` holds the writes
/// that end orphans this supervisor adopted: kept across heartbeats until the store applies
/// them (an adopted row is no orphan any more: no later sweep would find it again).
async fn reap<L: Lifecycle, S: StatusStore<L>>(
    store: &S,
    owner: &str,
    config: Config,
    counters: &Counters,
    ending: &mut Vec<RowWrite<L>>,
) {
    match store.reap_leases(config.lease_ttl).await {
        Ok(reaped) => Counters::add(&counters.leases_reaped, reaped),
        Err(error) => counters.note_failed(&error),
    }
    if config.end_orphans {
        if let Err(error) = adopt_orphans(store, owner, ending).await {
            counters.note_failed(&error);
        }
        if !ending.is_empty() {
            match store.apply(owner, ending).await {
                Ok(refused) => {
                    for (index, error) in refused {
                        counters.note_failed(&error);
                        counters.note_refused(ending[index].id(), error);
                    }
                    Counters::add(&counters.orphans_ended, ending.len() as u64 / 2);
                    ending.clear();
                }
                Err(error) => counters.note_failed(&error),
            }
        }
    }
}

/// Adopts every orphan, and queues in `ending` its move to the abandoned state with the dead
/// owner named. Compare-and-set all the way: an orphan another supervisor adopts first is
/// left to it.
async fn adopt_orphans<L: Lifecycle, S: StatusStore<L>>(
    store: &S,
    owner: &str,
    ending: &mut Vec<RowWrite<L>>,
) -> Result<(), StoreError> {
    for row in store.orphans().await? {
        // A poisoned row is left as it is, for a person to look at (reconcile reports it).
        let Ok(state) = row.state::<L>() else {
            continue;
        };
        let Ok(abandon) = Transition::new(state, L::abandoned()) else {
            continue;
        };
        if !store.adopt(&row.id, &row.owner, state, owner).await? {
            continue;
        }
        let reason = format!(
            "orphaned: its owner `{}` stopped renewing its lease; ended by `{owner}`",
            row.owner
        );
        #[cfg(feature = "tracing")]
        tracing::warn!(task = %row.id, dead_owner = %row.owner, "orphaned row ended");
        let id: Arc<str> = row.id.into();
        ending.push(RowWrite::transition(Arc::clone(&id), abandon));
        ending.push(RowWrite::reason(id, reason));
    }
    Ok(())
}
