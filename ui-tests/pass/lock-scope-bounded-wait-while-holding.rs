use std::time::Duration;

use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    use fixpoint::lock::BoundedExt;

    let permit = pool.acquire(&lock_scope).await;
    let first = fixpoint::lock::bounded(Duration::from_secs(5), user_reply()).await.unwrap_or_default();
    let second = user_reply().bounded(Duration::from_secs(5)).await.unwrap_or_default();
    let third = tokio::time::timeout(Duration::from_secs(5), user_reply()).await.unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(1)).await;
    drop(permit);
    first + &second + &third
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(ask(&pool).await, "yesyesyes");
}
