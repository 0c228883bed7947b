//! `#[lock_scope]` beside the attributes async code already wears, run for real: under and above
//! `#[tokio::test]` (which the ui cases compile but cannot run), and with `#[tracing::instrument]`.
#![cfg(feature = "tokio")]

use std::time::Duration;

use fixpoint::{
    lock::{Semaphore, bounded},
    lock_scope,
};

async fn user_reply() -> String {
    String::from("yes")
}

#[tokio::test]
#[lock_scope(no_unbounded_await)]
async fn under_tokio_test() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    let reply = bounded(Duration::from_secs(5), user_reply()).await;
    drop(permit);
    assert_eq!(reply.ok().as_deref(), Some("yes"));
    assert_eq!(user_reply().await, "yes");
}

#[lock_scope(no_unbounded_await)]
#[tokio::test]
async fn above_tokio_test() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    assert_eq!(user_reply().await, "yes");
}

// Below `#[tokio::test]`, `#[lock_scope]` goes above `#[tracing::instrument]`, which would
// otherwise wrap tokio's runtime in a span guard first.
#[tokio::test]
#[lock_scope(no_unbounded_await)]
#[tracing::instrument]
async fn under_tokio_test_above_instrument() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    assert_eq!(user_reply().await, "yes");
}

#[tracing::instrument]
#[tokio::test]
#[lock_scope(no_unbounded_await)]
async fn under_instrument_and_tokio_test() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    assert_eq!(user_reply().await, "yes");
}
