use fixpoint::{lock_scope, lock::Semaphore};
use tokio::sync::mpsc;

// The wait is the `if let`'s scrutinee: a channel receive, unbounded, with the permit held.
#[lock_scope(no_unbounded_await)]
async fn next(pool: &Semaphore, mut jobs: mpsc::Receiver<u32>) -> u32 {
    let permit = pool.acquire(&lock_scope).await;
    let job = if let Some(job) = jobs.recv().await { job } else { 0 };
    drop(permit);
    job
}

fn main() {}
