//! `#[lock_scope]` beside the attributes async code already wears, run for real: under and above
//! `#[tokio::test]` (which the ui cases compile but cannot run), and with `#[tracing::instrument]`.
#![cfg(feature = "tokio")]

use std::time::Duration;

use fixpoint::{
    lock::{LockScope, Semaphore, allow_unbounded, bounded},
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

/// The attribute's own scope is checked: it has no reason to give.
#[lock_scope(no_unbounded_await)]
async fn the_attributes_reason() -> Option<&'static str> {
    lock_scope.reason()
}

/// The reason of an unchecked scope or of a declared unbounded wait is the one written, for
/// the reviewer who greps for it; the attribute's own scope is checked and has none.
#[tokio::test]
async fn reasons_are_kept_as_written_and_a_checked_scope_has_none() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    assert_eq!(
        the_attributes_reason().await,
        None,
        "the attribute's scope claims to be unchecked"
    );
    let unchecked = LockScope::unchecked("the legacy handler is migrated in #123");
    assert_eq!(
        unchecked.reason(),
        Some("the legacy handler is migrated in #123")
    );
    let exempt = allow_unbounded("the peer's handshake has its own deadline", user_reply());
    assert_eq!(exempt.reason(), "the peer's handshake has its own deadline");
    assert_eq!(exempt.await, "yes");
}
