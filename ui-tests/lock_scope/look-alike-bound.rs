use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

async fn bounded<F: std::future::Future>(_limit: u64, future: F) -> F::Output {
    future.await
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    let reply = bounded(30, user_reply()).await;
    drop(permit);
    reply
}

fn main() {}
