use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn worker(handoff: fixpoint::lock::HandOff) -> usize {
    // `handoff` is entered into this scope before the first line: it is a permit here.
    let held = handoff.held_for();
    drop(handoff);
    let _ = held;
    user_reply().await.len()
}

#[lock_scope(no_unbounded_await)]
async fn dispatch(pool: Semaphore) -> usize {
    let permit = pool.acquire(&lock_scope).await;
    permit.spawn(worker).await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(dispatch(pool.clone()).await, 3);
    assert_eq!(pool.gauges().in_flight, 0);
}
