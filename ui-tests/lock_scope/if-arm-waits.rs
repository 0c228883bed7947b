use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore, interactive: bool) -> String {
    let permit = pool.acquire(&lock_scope).await;
    let reply = if interactive { user_reply().await } else { String::new() };
    drop(permit);
    reply
}

fn main() {}
