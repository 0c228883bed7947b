use fixpoint::{lock_scope, lock::RwLock};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(config: &RwLock<String>) {
    let mut name = config.write(&lock_scope).await;
    name.push_str(&user_reply().await);
}

fn main() {}
