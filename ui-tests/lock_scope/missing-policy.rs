use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope]
async fn ask(pool: &Semaphore) -> String {
    let _ = pool;
    user_reply().await
}

fn main() {}
