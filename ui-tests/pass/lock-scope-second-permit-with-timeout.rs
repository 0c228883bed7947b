use std::time::Duration;

use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn nested(agents: &Semaphore, tools: &Semaphore) -> usize {
    let agent = agents.acquire(&lock_scope).await;
    let tool = tools.acquire_timeout(&lock_scope, Duration::from_secs(1)).await.unwrap();
    let both = agents.gauges().in_flight + tools.gauges().in_flight;
    drop(tool);
    drop(agent);
    both
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (agents, tools) = (Semaphore::new("agents", 1), Semaphore::new("tools", 1));
    assert_eq!(nested(&agents, &tools).await, 2);
}
