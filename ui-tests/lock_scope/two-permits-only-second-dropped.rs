use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(agents: &Semaphore, tools: &Semaphore) -> String {
    let agent = agents.acquire(&lock_scope).await;
    let tool = tools
        .acquire_timeout(&lock_scope, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    drop(tool);
    let reply = user_reply().await;
    drop(agent);
    reply
}

fn main() {}
