use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

struct Agent {
    pool: Semaphore,
    runs: u32,
}

impl Agent {
    fn count_run(&mut self) {
        self.runs += 1;
    }
}

#[lock_scope(no_unbounded_await)]
async fn ask(agent: &mut Agent) -> String {
    let permit = agent.pool.acquire_cloned(&lock_scope).await;
    agent.count_run();
    let reply = user_reply().await;
    drop(permit);
    reply
}

fn main() {}
