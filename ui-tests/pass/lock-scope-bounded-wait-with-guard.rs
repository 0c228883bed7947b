use std::time::Duration;

use fixpoint::{lock_scope, lock::{Mutex, RwLock}};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(
    answers: &Mutex<Vec<String>>,
    config: &RwLock<String>,
) -> Result<usize, fixpoint::lock::AcquireTimeout> {
    let limit = Duration::from_secs(1);
    let mut list = answers.lock_timeout(&lock_scope, limit).await?;
    let name = config.read_timeout(&lock_scope, limit).await?;
    let reply = fixpoint::lock::bounded(limit, user_reply()).await.unwrap_or_default();
    list.push(reply + &name);
    let slow = fixpoint::lock::allow_unbounded("the reply has its own deadline", user_reply()).await;
    list.push(slow);
    drop(name);
    let mut owned = config.write_cloned_timeout(&lock_scope, limit).await?;
    owned.push('!');
    Ok(list.len())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let answers = Mutex::new("answers", Vec::new());
    let config = RwLock::new("config", String::from("agents"));
    assert_eq!(ask(&answers, &config).await.unwrap(), 2);
}
