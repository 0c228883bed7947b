use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    let reply = fixpoint::lock::allow_unbounded("", user_reply()).await;
    drop(permit);
    reply
}

fn main() {}
