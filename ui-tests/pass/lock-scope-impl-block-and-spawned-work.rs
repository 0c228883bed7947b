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
        // Work spawned elsewhere does not hold this permit; its waits are its own.
        let background = tokio::spawn(async move { user_reply().await });
        drop(permit);
        background.await.unwrap()
    }

    pub async fn idle(&self) -> String {
        user_reply().await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let agent = Agent::new();
    assert_eq!(agent.run().await + &agent.idle().await, "yesyes");
}
