use std::time::Duration;

use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    permit.set_label("agent run for alice");
    let released = permit.release();
    let reply = user_reply().await;
    let permit = released.reacquire(&lock_scope).await;
    drop(permit);
    let again = released
        .reacquire_timeout(&lock_scope, Duration::from_secs(1))
        .await
        .unwrap();
    drop(again);
    reply
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(ask(&pool).await, "yes");
    assert_eq!(pool.gauges().in_flight, 0);
}
