use fixpoint::{lock_scope, lock::Semaphore};

#[lock_scope(no_unbounded_await)]
async fn nested(agents: &Semaphore, tools: &Semaphore) {
    let agent = agents.acquire(&lock_scope).await;
    let tool = tools.acquire(&lock_scope).await;
    drop(tool);
    drop(agent);
}

fn main() {}
