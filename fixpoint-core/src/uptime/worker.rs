//! A lazily started global worker thread that survives `fork`: it remembers which process
//! started it, and a process that finds another's worker (copied by `fork`, without its
//! thread) starts its own instead of waiting on a thread that does not exist.

use core::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, PoisonError};

/// A worker thread behind a `static`, started by the first [`send`](Self::send) in each
/// process.
///
/// A `OnceLock` would start it once per *address space*: a child forked after the start
/// inherits the memory that says "started" but not the thread, and waits forever. This cell
/// keys the worker by process id: the first send in the child finds a parent's worker, drops
/// it (without joining a thread that is not there) and starts one of its own. Messages the
/// parent had queued and its worker had not taken stay with the parent.
///
/// The cell's lock is held only to check the pid, start the thread, and clone the sender, so
/// a fork taken while another thread holds it is unlikely, not impossible: fork from a
/// process that is not sending at that moment.
///
/// ```
/// use std::sync::mpsc;
/// use fixpoint::uptime::GlobalWorker;
///
/// static ECHO: GlobalWorker<mpsc::Sender<u32>> =
///     GlobalWorker::new("echo-pid", |reply| { let _ = reply.send(std::process::id()); });
///
/// let (reply, answer) = mpsc::channel();
/// ECHO.send(reply).unwrap();
/// assert_eq!(answer.recv().unwrap(), std::process::id());
/// assert_eq!(ECHO.starts(), 1);
/// ```
pub struct GlobalWorker<M> {
    name: &'static str,
    handle: fn(M),
    running: Mutex<Option<Running<M>>>,
    starts: AtomicU64,
}

struct Running<M> {
    pid: u32,
    messages: Sender<M>,
}

impl<M: Send + 'static> GlobalWorker<M> {
    /// A worker named `name` (its thread's name) that calls `handle` with each message, in
    /// order, on its thread. Nothing starts until the first [`send`](Self::send).
    #[must_use]
    pub const fn new(name: &'static str, handle: fn(M)) -> Self {
        GlobalWorker {
            name,
            handle,
            running: Mutex::new(None),
            starts: AtomicU64::new(0),
        }
    }

    /// Queues `message` for this process's worker, starting it if this process has none.
    ///
    /// # Errors
    ///
    /// [`WorkerError::Spawn`] when the thread cannot be started; [`WorkerError::Stopped`]
    /// when the worker's thread has ended (its handler panicked): the next send starts a new
    /// one.
    pub fn send(&self, message: M) -> Result<(), WorkerError> {
        let messages = self.sender()?;
        messages.send(message).map_err(|_| {
            self.forget_stopped();
            WorkerError::Stopped { name: self.name }
        })
    }

    /// How many workers this process has started (a forked child counts its parent's too: it
    /// copied the counter).
    #[must_use]
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    /// This process's sender, from the worker it started, or from one it starts now.
    fn sender(&self) -> Result<Sender<M>, WorkerError> {
        let pid = std::process::id();
        let mut running = self.lock();
        match &*running {
            Some(worker) if worker.pid == pid => return Ok(worker.messages.clone()),
            // Another process's worker, copied by `fork`: its thread is not here.
            Some(_) | None => {}
        }
        let (messages, inbox) = channel::<M>();
        let handle = self.handle;
        std::thread::Builder::new()
            .name(self.name.to_owned())
            .spawn(move || inbox.into_iter().for_each(handle))
            .map_err(|source| WorkerError::Spawn {
                name: self.name,
                source,
            })?;
        self.starts.fetch_add(1, Ordering::Relaxed);
        *running = Some(Running {
            pid,
            messages: messages.clone(),
        });
        Ok(messages)
    }

    /// The worker's thread ended: the next send starts another.
    fn forget_stopped(&self) {
        let mut running = self.lock();
        if running
            .as_ref()
            .is_some_and(|worker| worker.pid == std::process::id())
        {
            *running = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running<M>>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<M> fmt::Debug for GlobalWorker<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pid = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|worker| worker.pid);
        f.debug_struct("GlobalWorker")
            .field("name", &self.name)
            .field("started_by", &pid)
            .field("starts", &self.starts.load(Ordering::Relaxed))
            .finish()
    }
}

/// A message a [`GlobalWorker`] could not take.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The worker's thread could not be started.
    #[error("cannot start the worker thread {name:?}: {source}")]
    Spawn {
        /// The worker's name.
        name: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// The worker's thread ended (its handler panicked); the next send starts a new one.
    #[error(
        "the worker thread {name:?} has stopped (its handler panicked); the message was not \
         delivered, and the next send starts a new worker"
    )]
    Stopped {
        /// The worker's name.
        name: &'static str,
    },
}
