use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn serve(pool: &Semaphore, requests: usize) -> usize {
    let mut served = 0;
    for _ in 0..requests {
        let request = user_reply().await;
        let permit = pool.acquire(&lock_scope).await;
        served += request.len();
        drop(permit);
    }
    while served < 100 {
        let permit = pool.acquire(&lock_scope).await;
        served += 10;
        drop(permit);
        tokio::task::yield_now().await;
    }
    served
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(serve(&pool, 3).await, 109);
}
