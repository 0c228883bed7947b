use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

async fn acquire_and_ask(pool: &Semaphore, scope: &fixpoint::lock::LockScope) -> String {
    let _permit = pool.acquire(scope).await;
    user_reply().await
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    acquire_and_ask(pool, &lock_scope).await
}

fn main() {}
