use std::sync::Arc;

use fixpoint::{lock_scope, lock::Semaphore};

// tokio's own locks take no scope: their waits are plain unbounded awaits, fine while no
// permit is held, as they were before the lock verbs were known to the attribute.
#[lock_scope(no_unbounded_await)]
async fn tally(pool: &Semaphore, count: Arc<tokio::sync::Mutex<u32>>) -> u32 {
    *count.lock().await += 1;
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    let config = tokio::sync::RwLock::new(2);
    let read = *config.read().await;
    *config.write().await += read;
    let owned = Arc::clone(&count).lock_owned().await;
    *owned + config.into_inner()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    let count = Arc::new(tokio::sync::Mutex::new(0));
    assert_eq!(tally(&pool, count).await, 5);
}
