use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore, input: &str) -> Result<u32, std::num::ParseIntError> {
    let permit = pool.acquire(&lock_scope).await;
    let parsed: u32 = input.parse()?;
    drop(permit);
    let reply = user_reply().await;
    Ok(parsed + reply.len() as u32)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert!(ask(&pool, "x").await.is_err());
    assert_eq!(ask(&pool, "4").await, Ok(7));
    assert_eq!(pool.gauges().in_flight, 0);
}
