use std::time::Duration;

use fixpoint::{lock::{bounded, Semaphore}, lock_scope};
use tracing::instrument;

async fn user_reply() -> String {
    String::from("yes")
}

#[instrument(skip(pool))]
#[lock_scope(no_unbounded_await)]
async fn instrumented_first(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    user_reply().await
}

#[lock_scope(no_unbounded_await)]
#[instrument(skip(pool))]
async fn checked_first(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    user_reply().await
}

#[instrument(skip(pool), err, ret)]
#[lock_scope(no_unbounded_await)]
async fn with_err_and_ret(pool: &Semaphore) -> Result<String, std::fmt::Error> {
    let permit = pool.acquire(&lock_scope).await;
    let reply = bounded(Duration::from_secs(1), user_reply()).await.unwrap_or_default();
    drop(permit);
    Ok(reply + &user_reply().await)
}

#[instrument(skip(pool), err)]
#[lock_scope(no_unbounded_await)]
async fn with_err(pool: &Semaphore) -> Result<String, std::fmt::Error> {
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    Ok(user_reply().await)
}

#[instrument(skip(pool), ret)]
#[lock_scope(no_unbounded_await)]
async fn with_ret(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    user_reply().await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(instrumented_first(&pool).await, "yes");
    assert_eq!(checked_first(&pool).await, "yes");
    assert_eq!(with_err_and_ret(&pool).await, Ok("yesyes".to_owned()));
    assert_eq!(with_err(&pool).await, Ok("yes".to_owned()));
    assert_eq!(with_ret(&pool).await, "yes");
}
