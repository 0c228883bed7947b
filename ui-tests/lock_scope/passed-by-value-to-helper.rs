use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

async fn ask_holding(permit: fixpoint::lock::Permit<'_>) -> String {
    let reply = user_reply().await;
    drop(permit);
    reply
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    ask_holding(permit).await
}

fn main() {}
