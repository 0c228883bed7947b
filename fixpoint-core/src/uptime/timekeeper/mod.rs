//! The timekeeper: one thread per process that keeps every deadline fixpoint keeps, so that no
//! deadline waits for the runtime it judges.
//!
//! A tokio timer fires only when a runtime worker is free to turn the timer wheel: with every
//! worker blocked in a synchronous call, or with the waiting task stuck in the next-task slot of
//! the one worker that is blocked, a deadline of 300 ms fires when the worker comes back, seconds
//! later. The timekeeper is a plain thread with a timer heap, asleep on a condition variable
//! until the earliest deadline (no polling loop). At a deadline it wakes the future that waits
//! (a waker works from any thread: the runtime's idle workers, or the thread in `block_on`,
//! pick the task up) or runs a short action (send a signal, end a row, start a capture thread)
//! itself. It measures the monotonic clock, which `tokio::time::pause` does not stop: a paused
//! test clock does not hold a deadline back either.
//!
//! It starts with the first deadline of each process and, like [`GlobalWorker`], survives
//! `fork`: a child that finds its parent's timekeeper (copied by `fork` without its thread)
//! forgets the parent's timers and starts its own thread.
//!
//! What it cannot do: return to a caller whose own thread is blocked. On a current-thread
//! runtime blocked by its caller, or a task blocked in `std::thread::sleep`, the deadline's
//! *decision* and *action* (a process killed, a row ended) happen on time; the code awaiting the
//! result runs when its thread is free again.
//!
//! [`GlobalWorker`]: super::GlobalWorker

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

pub(crate) mod sleep;

use sleep::Signal;
pub use sleep::{Elapsed, Sleep, Timeout, sleep, sleep_until, timeout, timeout_at};

/// What a timer does when it fires, on the timekeeper's thread.
enum Action {
    /// Marks the signal fired and wakes the future waiting on it.
    Wake(Arc<Signal>),
    /// Runs a short piece of code (it must not block: every other deadline waits for it).
    Run(Box<dyn FnOnce() + Send>),
}

/// The timers of one process.
struct Timers {
    /// The process whose thread serves these timers; `None` before the first.
    pid: Option<u32>,
    /// Deadlines in order, with the id of their timer. A cancelled timer's entry stays here
    /// until it comes up or the heap is compacted.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    /// The live timers: cancelling one removes it here.
    live: BTreeMap<u64, (Instant, Action)>,
    next_id: u64,
    fired: u64,
}

impl Timers {
    const fn new() -> Self {
        Timers {
            pid: None,
            heap: BinaryHeap::new(),
            live: BTreeMap::new(),
            next_id: 0,
            fired: 0,
        }
    }

    /// Cancelled entries are reaped when they outnumber the live ones: the heap never holds
    /// more than twice the live timers (plus a small constant).
    fn compact(&mut self) {
        if self.heap.len() > 2 * self.live.len() + 64 {
            self.heap = self
                .live
                .iter()
                .map(|(&id, &(at, _))| Reverse((at, id)))
                .collect();
        }
    }
}

struct Keeper {
    timers: Mutex<Timers>,
    changed: Condvar,
}

static KEEPER: Keeper = Keeper {
    timers: Mutex::new(Timers::new()),
    changed: Condvar::new(),
};

impl Keeper {
    fn lock(&self) -> MutexGuard<'_, Timers> {
        self.timers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a timer, starting this process's thread if it has none. Returns its id.
    fn insert(&'static self, at: Instant, action: Action) -> u64 {
        let mut timers = self.lock();
        let pid = std::process::id();
        if timers.pid != Some(pid) {
            // Another process's timers, copied by `fork`: their futures and its thread are not
            // here. Start afresh.
            *timers = Timers::new();
            match std::thread::Builder::new()
                .name("fixpoint-timekeeper".to_owned())
                .spawn(move || self.keep())
            {
                Ok(_) => timers.pid = Some(pid),
                // Kept in the heap: the next insert tries to start the thread again.
                Err(_error) => {
                    #[cfg(feature = "tracing")]
                    tracing::error!(error = %_error, "cannot start the timekeeper thread; deadlines wait for the next attempt");
                }
            }
        }
        let id = timers.next_id;
        timers.next_id += 1;
        let first = timers
            .heap
            .peek()
            .is_none_or(|Reverse((next, _))| at < *next);
        timers.heap.push(Reverse((at, id)));
        timers.live.insert(id, (at, action));
        drop(timers);
        if first {
            self.changed.notify_one();
        }
        id
    }

    /// Removes a timer that has not fired: `true` when it was still waiting (it never fires).
    fn cancel(&self, id: u64) -> bool {
        let mut timers = self.lock();
        let cancelled = timers.live.remove(&id).is_some();
        timers.compact();
        cancelled
    }

    /// The thread: sleeps until the earliest deadline, fires what is due, again.
    fn keep(&self) {
        let mut due = Vec::new();
        loop {
            let mut timers = self.lock();
            loop {
                let now = Instant::now();
                while let Some(&Reverse((at, id))) = timers.heap.peek() {
                    if at > now {
                        break;
                    }
                    timers.heap.pop();
                    if let Some((_, action)) = timers.live.remove(&id) {
                        due.push(action);
                    }
                }
                if !due.is_empty() {
                    timers.fired += due.len() as u64;
                    break;
                }
                timers = match timers.heap.peek() {
                    Some(&Reverse((at, _))) => {
                        self.changed
                            .wait_timeout(timers, at - now)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                    None => self
                        .changed
                        .wait(timers)
                        .unwrap_or_else(PoisonError::into_inner),
                };
            }
            drop(timers);
            for action in due.drain(..) {
                match action {
                    Action::Wake(signal) => signal.fire(),
                    // An action that panics must not take every other deadline with it.
                    Action::Run(run) => {
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
                    }
                }
            }
        }
    }
}

/// How many timers have fired in this process, and how many are waiting: for tests and for a
/// look at the timekeeper's load.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::uptime::timekeeper;
///
/// let waiting = timekeeper::sleep(Duration::from_secs(3600));
/// assert!(timekeeper::stats().waiting >= 1);
/// drop(waiting); // cancelled: it never fires
/// ```
#[must_use]
pub fn stats() -> Stats {
    let timers = KEEPER.lock();
    Stats {
        fired: timers.fired,
        waiting: timers.live.len(),
        entries: timers.heap.len(),
    }
}

/// The timekeeper's counts, from [`stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Timers fired since the process started its timekeeper.
    pub fired: u64,
    /// Timers waiting for their deadline.
    pub waiting: usize,
    /// Entries in the heap, cancelled ones not yet reaped included (at most twice `waiting`
    /// plus 64).
    pub entries: usize,
}

/// A timer that runs `action` on the timekeeper's thread at `at`, unless cancelled first.
///
/// The action must be short and must not block (every other deadline waits for it): send a
/// signal, end a row, wake a future, or start a thread for anything longer. A panic in it is
/// caught and lost.
pub(crate) fn at(at: Instant, action: impl FnOnce() + Send + 'static) -> Timer {
    Timer {
        id: Some(KEEPER.insert(at, Action::Run(Box::new(action)))),
    }
}

/// A timer set with [`at`]: dropping it cancels it.
#[derive(Debug)]
pub(crate) struct Timer {
    id: Option<u64>,
}

impl Timer {
    /// Cancels it: `true` when it had not fired (its action will never run), `false` when it
    /// had (its action has run or is running).
    pub(crate) fn cancel(mut self) -> bool {
        self.id.take().is_some_and(|id| KEEPER.cancel(id))
    }

    /// Lets it fire whatever happens to this handle.
    #[cfg_attr(not(all(feature = "process", target_os = "linux")), allow(dead_code))]
    pub(crate) fn detach(mut self) {
        self.id = None;
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            KEEPER.cancel(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn actions_fire_once_in_deadline_order_and_cancelled_ones_never() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        // Far apart, so that a loaded machine cannot reorder them or fire the cancelled one
        // before it is cancelled.
        let mut timers = [300u64, 100, 500, 400].into_iter().map(|ms| {
            let order = Arc::clone(&order);
            at(start + Duration::from_millis(ms), move || {
                order.lock().unwrap().push(ms);
            })
        });
        let (t300, t100, t500, t400) = (
            timers.next().unwrap(),
            timers.next().unwrap(),
            timers.next().unwrap(),
            timers.next().unwrap(),
        );
        assert!(t500.cancel(), "cancelled before its deadline");
        while order.lock().unwrap().len() < 3 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timers did not fire"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!t300.cancel(), "fired already");
        t100.detach();
        drop(t400);
        std::thread::sleep(Duration::from_millis(150)); // past the cancelled one's deadline
        assert_eq!(*order.lock().unwrap(), [100, 300, 400]);
    }

    #[test]
    fn a_dropped_timer_never_fires() {
        let fired = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&fired);
        drop(at(Instant::now() + Duration::from_millis(5), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(fired.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn cancelled_entries_are_reaped() {
        for _ in 0..10_000 {
            drop(sleep(Duration::from_secs(3600)));
        }
        let stats = stats();
        assert!(
            stats.entries <= 2 * stats.waiting + 65,
            "heap grew with cancelled timers: {stats:?}"
        );
    }

    #[test]
    fn a_panicking_action_leaves_the_thread_keeping_time() {
        let _boom = at(Instant::now(), || panic!("boom"));
        let start = Instant::now();
        // A plain executor: the waker is a thread unpark.
        let waiter = std::thread::current();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&fired);
        let _timer = at(Instant::now() + Duration::from_millis(10), move || {
            flag.store(true, Ordering::SeqCst);
            waiter.unpark();
        });
        while !fired.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the timekeeper died"
            );
            std::thread::park_timeout(Duration::from_millis(50));
        }
    }
}
