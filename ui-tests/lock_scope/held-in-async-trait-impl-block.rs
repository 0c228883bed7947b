use async_trait::async_trait;
use fixpoint::{lock::Semaphore, lock_scope};

async fn user_reply() -> String {
    String::from("yes")
}

#[async_trait]
trait Agent {
    async fn ask(&self, pool: &Semaphore) -> String;
}

struct Ask;

#[async_trait]
#[lock_scope(no_unbounded_await)]
impl Agent for Ask {
    async fn ask(&self, pool: &Semaphore) -> String {
        let permit = pool.acquire(&lock_scope).await;
        let reply = user_reply().await;
        drop(permit);
        reply
    }
}

fn main() {}
