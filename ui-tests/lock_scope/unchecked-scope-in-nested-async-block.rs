use fixpoint::{lock_scope, lock::{LockScope, Semaphore}};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    async {
        let scope = LockScope::unchecked("just this once");
        let permit = pool.acquire(&scope).await;
        let reply = user_reply().await;
        drop(permit);
        reply
    }
    .await
}

fn main() {}
