use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[tokio::test]
#[lock_scope(no_unbounded_await)]
async fn under_tokio_test() {
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    assert_eq!(user_reply().await, "yes");
}

#[lock_scope(no_unbounded_await)]
#[tokio::test]
async fn above_tokio_test() {
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    assert_eq!(user_reply().await, "yes");
}

#[tokio::main(flavor = "current_thread")]
#[lock_scope(no_unbounded_await)]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    assert_eq!(user_reply().await, "yes");
}
