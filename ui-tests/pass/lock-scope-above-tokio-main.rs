use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    assert_eq!(user_reply().await, "yes");
}
