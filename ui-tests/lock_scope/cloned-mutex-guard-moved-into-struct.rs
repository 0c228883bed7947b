use fixpoint::{lock_scope, lock::{Mutex, MutexGuard}};

async fn user_reply() -> String {
    String::from("yes")
}

struct Turn<'s> {
    answers: MutexGuard<'s, Vec<String>>,
    user: &'static str,
}

#[lock_scope(no_unbounded_await)]
async fn ask(answers: Mutex<Vec<String>>) -> &'static str {
    let mut turn = Turn { answers: answers.lock_cloned(&lock_scope).await, user: "alice" };
    let reply = user_reply().await;
    turn.answers.push(reply);
    turn.user
}

fn main() {}
