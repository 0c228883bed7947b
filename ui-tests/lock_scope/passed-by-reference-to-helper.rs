use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

async fn ask_holding(_permit: &fixpoint::lock::Permit<'_>) -> String {
    user_reply().await
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    let reply = ask_holding(&permit).await;
    drop(permit);
    reply
}

fn main() {}
