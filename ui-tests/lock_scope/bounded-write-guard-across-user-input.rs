use std::time::Duration;

use fixpoint::{lock_scope, lock::RwLock};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(config: &RwLock<String>) -> Result<(), fixpoint::lock::AcquireTimeout> {
    let limit = Duration::from_secs(1);
    let mut name = config.write_timeout(&lock_scope, limit).await?;
    name.push_str(&user_reply().await);
    Ok(())
}

fn main() {}
