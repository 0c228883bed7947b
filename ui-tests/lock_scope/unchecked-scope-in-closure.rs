use fixpoint::{lock_scope, lock::{LockScope, Semaphore}};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let open = || LockScope::unchecked("just this once");
    let scope = open();
    let permit = pool.acquire(&scope).await;
    let reply = user_reply().await;
    drop(permit);
    reply
}

fn main() {}
