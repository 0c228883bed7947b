use fixpoint::{lock_scope, lock::{LockScope, Semaphore}};

async fn user_reply() -> String {
    String::from("yes")
}

// Deliberately outside the contract, where a reviewer can grep for it.
async fn legacy(pool: &Semaphore) -> String {
    let scope = LockScope::unchecked("the legacy handler is migrated in #123");
    let permit = pool.acquire(&scope).await;
    let reply = user_reply().await;
    drop(permit);
    reply
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let permit = pool.acquire(&lock_scope).await;
    drop(permit);
    // A scope opened elsewhere, by a fn without the attribute, is that fn's business.
    legacy(pool).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    assert_eq!(ask(&pool).await, "yes");
}
