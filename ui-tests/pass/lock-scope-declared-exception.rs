use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    let reply = fixpoint::lock::allow_unbounded(
        "the reply comes from a local cache that answers at once",
        user_reply(),
    )
    .await;
    drop(permit);
    reply
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(ask(&pool).await, "yes");
}
