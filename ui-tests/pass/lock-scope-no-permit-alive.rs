use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let first = user_reply().await;
    let second = async { user_reply().await }.await;
    let (a, b) = tokio::join!(user_reply(), user_reply());
    tokio::select! {
        reply = user_reply() => {
            let permit = pool.acquire(&lock_scope).await;
            drop(permit);
            first + &second + &a + &b + &reply
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(ask(&pool).await, "yesyesyesyesyes");
}
