use fixpoint::{lock_scope, lock::Mutex};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(answers: &Mutex<Vec<String>>) {
    let mut list = answers.lock_cloned(&lock_scope).await;
    let reply = user_reply().await;
    list.push(reply);
}

fn main() {}
