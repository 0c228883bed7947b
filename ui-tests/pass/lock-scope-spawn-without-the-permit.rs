// Spawns that do not take the permit are not reported: a value read from the permit before the
// spawn, and a name that held a permit once and was bound again to something else. Nor are a
// value computed from a borrow of the permit, and a method that is not a spawn handed the permit.
use fixpoint::{lock::{Permit, Semaphore}, lock_scope};

async fn log(_held: std::time::Duration) {}

struct Audit;

impl Audit {
    fn note(&self, permit: &Permit<'_>) -> u32 {
        u32::from(permit.acquired_at().line() > 0)
    }

    fn keep<'s>(&self, permit: Permit<'s>) -> Permit<'s> {
        permit
    }
}

#[lock_scope(no_unbounded_await)]
async fn run(pool: Semaphore) -> u32 {
    let permit = pool.acquire(&lock_scope).await;
    let logged = tokio::spawn(log(permit.held_for()));
    let noted = Audit.note(&permit);
    let kept = Audit.keep(permit);
    drop(kept);
    let permit = 2 + noted;
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
