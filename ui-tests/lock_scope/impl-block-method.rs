use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

pub struct Agent {
    pool: Semaphore,
}

#[lock_scope(no_unbounded_await)]
impl Agent {
    pub fn new() -> Self {
        Agent { pool: Semaphore::new("agents", 2) }
    }

    pub async fn run(&self) -> String {
        let permit = self.pool.acquire(&lock_scope).await;
        let reply = user_reply().await;
        drop(permit);
        reply
    }
}

fn main() {}
