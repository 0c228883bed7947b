use std::time::Duration;

use fixpoint::{lock_scope, lock::{LockScope, Semaphore}};

/// Not fixpoint's: its `lock_timeout` waits for as long as it takes.
struct Cache;

impl Cache {
    async fn lock_timeout(&self, _scope: &LockScope, _limit: Duration) -> u32 {
        std::future::pending().await
    }
}

#[lock_scope(no_unbounded_await)]
async fn refresh(pool: &Semaphore, cache: &Cache) -> u32 {
    let permit = pool.acquire(&lock_scope).await;
    let value = cache.lock_timeout(&lock_scope, Duration::from_secs(1)).await;
    drop(permit);
    value
}

fn main() {}
