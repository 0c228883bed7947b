use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let pair = (pool.acquire(&lock_scope).await, 1);
    let reply = user_reply().await;
    drop(pair);
    reply
}

fn main() {}
