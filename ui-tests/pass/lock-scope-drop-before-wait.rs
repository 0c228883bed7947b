use std::time::Duration;

use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    permit.set_label("reading the question");
    drop(permit);
    user_reply().await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(ask(&pool).await, "yes");
    assert_eq!(pool.gauges().in_flight, 0);
    let _ = Duration::ZERO;
}
