//! The store's thread: it owns the connection, runs the requests waiting in one transaction
//! (group commit), and answers each only once that transaction has committed.

use std::collections::VecDeque;
use std::sync::mpsc;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use super::sql::backend;
use crate::store::StoreError;

/// The most requests committed together: bounds how long the first of them waits.
const GROUP: usize = 256;

/// Work for the store's thread.
pub(super) enum Job {
    /// Runs in a group's transaction, answered after its commit.
    Grouped(Box<dyn Grouped>),
    /// Runs on the connection between transactions (a `PRAGMA` that no transaction holds).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// A request that runs inside a group's transaction. It may run more than once: when SQLite
/// rolls a transaction back under a later request, the requests before it run again in the
/// next one.
pub(super) trait Grouped: Send {
    /// Runs the request; returns its error, if it failed.
    fn run(&mut self, transaction: &Transaction<'_>) -> Option<StoreError>;

    /// Answers with the last run's result once its transaction committed, or with `Err`.
    fn answer(self: Box<Self>, committed: Result<(), StoreError>);
}

/// A [`Grouped`] request whose result goes back through a oneshot channel.
pub(super) struct Request<T, W> {
    work: W,
    result: Option<Result<T, StoreError>>,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, W> Request<T, W> {
    pub(super) fn new(work: W, answer: oneshot::Sender<Result<T, StoreError>>) -> Self {
        Request {
            work,
            result: None,
            answer,
        }
    }
}

impl<T, W> Grouped for Request<T, W>
where
    T: Send,
    W: FnMut(&Transaction<'_>) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, transaction: &Transaction<'_>) -> Option<StoreError> {
        let result = (self.work)(transaction);
        let error = result.as_ref().err().cloned();
        self.result = Some(result);
        error
    }

    fn answer(self: Box<Self>, committed: Result<(), StoreError>) {
        let Request { result, answer, .. } = *self;
        let _ = answer.send(committed.and_then(|()| result.unwrap_or_else(|| Err(stopped()))));
    }
}

pub(super) fn stopped() -> StoreError {
    StoreError::Backend("the store's thread has stopped".into())
}

/// The thread's loop: takes every job waiting, runs the grouped ones in transactions of up
/// to [`GROUP`], the others between them, in order. Ends when every sender is gone.
pub(super) fn serve(connection: &mut Connection, queue: &mpsc::Receiver<Job>) {
    let mut waiting = VecDeque::new();
    while let Ok(job) = queue.recv() {
        waiting.push_back(job);
        waiting.extend(queue.try_iter());
        while let Some(job) = waiting.pop_front() {
            match job {
                Job::Alone(work) => work(connection),
                Job::Grouped(first) => group(connection, first, &mut waiting, queue),
            }
        }
    }
}

/// Runs `first` and the grouped jobs behind it (those waiting, and those that arrive
/// meanwhile) in one transaction, commits, and answers them all.
fn group(
    connection: &mut Connection,
    first: Box<dyn Grouped>,
    waiting: &mut VecDeque<Job>,
    queue: &mpsc::Receiver<Job>,
) {
    // Immediate: the write lock is taken up front, so a group that reads and then writes
    // cannot be refused midway because another process wrote in between.
    let transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => return first.answer(Err(backend(error))),
    };
    let mut ran: Vec<Box<dyn Grouped>> = Vec::new();
    let mut next = Some(first);
    while let Some(mut job) = next.take() {
        let failed = job.run(&transaction);
        if transaction.is_autocommit() {
            // SQLite rolled the whole transaction back (it may, on SQLITE_FULL, IOERR or
            // NOMEM): the request that failed learns why; the ones before it lost their work
            // with it and run again in the next transaction, so none is answered for work
            // that is gone, and none is applied outside a transaction.
            job.answer(Err(failed.unwrap_or_else(|| {
                StoreError::Backend("SQLite rolled the transaction back".into())
            })));
            for job in ran.into_iter().rev() {
                waiting.push_front(Job::Grouped(job));
            }
            return;
        }
        ran.push(job);
        if waiting.is_empty() {
            waiting.extend(queue.try_iter());
        }
        next = match waiting.pop_front() {
            Some(Job::Grouped(job)) if ran.len() < GROUP => Some(job),
            Some(other) => {
                waiting.push_front(other);
                None
            }
            None => None,
        };
    }
    let committed = transaction.commit().map_err(backend);
    for job in ran {
        job.answer(committed.clone());
    }
}
