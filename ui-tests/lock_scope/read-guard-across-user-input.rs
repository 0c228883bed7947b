use fixpoint::{lock_scope, lock::RwLock};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(config: &RwLock<String>) -> String {
    let name = config.read(&lock_scope).await;
    let reply = user_reply().await;
    reply + &name
}

fn main() {}
