//! Foreign guards held across awaits: clippy must reject each one.

use std::future::Future;

/// A tokio mutex guard held while waiting for user input.
pub async fn tokio_guard(lock: &tokio::sync::Mutex<u32>, input: impl Future<Output = u32>) -> u32 {
    let mut guard = lock.lock().await;
    *guard += input.await;
    *guard
}

/// A tokio semaphore permit held while waiting for user input.
pub async fn tokio_permit(pool: &tokio::sync::Semaphore, input: impl Future<Output = u32>) -> u32 {
    let _permit = pool.acquire().await.expect("open");
    input.await
}

/// A std mutex guard held across an await (clippy's `await_holding_lock`, on by default).
pub async fn std_guard(lock: &std::sync::Mutex<u32>, input: impl Future<Output = u32>) -> u32 {
    let mut guard = lock.lock().expect("not poisoned");
    *guard += input.await;
    *guard
}

/// Released before the wait: no lint.
pub async fn released(lock: &tokio::sync::Mutex<u32>, input: impl Future<Output = u32>) -> u32 {
    let value = *lock.lock().await;
    value + input.await
}
