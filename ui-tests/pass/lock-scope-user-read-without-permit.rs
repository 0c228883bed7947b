use std::time::Duration;

use fixpoint::{lock_scope, lock::Semaphore};

/// A user's store whose methods share the lock verbs' names but take no scope.
struct Store(u32);

impl Store {
    async fn read(&self) -> u32 {
        self.0
    }

    async fn write(&mut self, value: u32) {
        self.0 = value;
    }

    /// Not a bounded wait by type: without `&lock_scope` it is an ordinary unbounded await.
    async fn read_timeout(&self, _limit: Duration) -> u32 {
        self.0
    }
}

#[lock_scope(no_unbounded_await)]
async fn sync(pool: &Semaphore, store: &mut Store) -> u32 {
    let seen = store.read().await;
    store.write(seen + 1).await;
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    store.read_timeout(Duration::from_secs(1)).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(sync(&pool, &mut Store(1)).await, 2);
}
