// Spawns that do not take the permit are not reported: a value read from the permit before the
// spawn, and a name that held a permit once and was bound again to something else.
use fixpoint::{lock::Semaphore, lock_scope};

async fn log(_held: std::time::Duration) {}

#[lock_scope(no_unbounded_await)]
async fn run(pool: Semaphore) -> u32 {
    let permit = pool.acquire(&lock_scope).await;
    let logged = tokio::spawn(log(permit.held_for()));
    drop(permit);
    let permit = 3_u32;
    let counted = tokio::spawn(async move { permit + 1 });
    logged.await.unwrap();
    counted.await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(run(pool.clone()).await, 4);
    assert_eq!(pool.gauges().in_flight, 0);
}
