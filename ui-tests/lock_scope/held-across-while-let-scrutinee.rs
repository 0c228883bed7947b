use fixpoint::{lock_scope, lock::Semaphore};
use tokio::sync::mpsc;

// The wait is the `while let`'s scrutinee: a channel receive, unbounded, with the permit held.
#[lock_scope(no_unbounded_await)]
async fn drain(pool: &Semaphore, mut jobs: mpsc::Receiver<u32>) -> u32 {
    let permit = pool.acquire(&lock_scope).await;
    let mut sum = 0;
    while let Some(job) = jobs.recv().await {
        sum += job;
    }
    drop(permit);
    sum
}

fn main() {}
