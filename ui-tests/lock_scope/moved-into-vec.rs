use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let mut held = Vec::new();
    held.push(pool.acquire(&lock_scope).await);
    let reply = user_reply().await;
    held.clear();
    reply
}

fn main() {}
