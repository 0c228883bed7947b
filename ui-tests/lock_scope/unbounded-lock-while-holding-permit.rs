use fixpoint::{lock_scope, lock::{Mutex, Semaphore}};

#[lock_scope(no_unbounded_await)]
async fn record(agents: &Semaphore, answers: &Mutex<Vec<String>>) {
    let agent = agents.acquire(&lock_scope).await;
    answers.lock(&lock_scope).await.push(String::from("yes"));
    drop(agent);
}

fn main() {}
