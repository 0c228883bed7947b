use fixpoint::{lock_scope, lock::Semaphore};
use tokio::sync::mpsc::Receiver;

// Any macro given an `.await` waits where it is called, at the top of its arguments...
#[lock_scope(no_unbounded_await)]
async fn relay(pool: &Semaphore, replies: &mut Receiver<String>) {
    let permit = pool.acquire(&lock_scope).await;
    println!("{}", replies.recv().await.unwrap_or_default());
    drop(permit);
}

// ...or nested in a macro of its own.
#[lock_scope(no_unbounded_await)]
async fn expect_reply(pool: &Semaphore, replies: &mut Receiver<String>) {
    let permit = pool.acquire(&lock_scope).await;
    assert!(matches!(replies.recv().await, Some(_)));
    drop(permit);
}

fn main() {}
