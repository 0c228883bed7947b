use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[tokio::main(flavor = "current_thread")]
#[lock_scope(no_unbounded_await)]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    let reply = user_reply().await;
    drop(permit);
    assert_eq!(reply, "yes");
}
