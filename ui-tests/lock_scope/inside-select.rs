use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore, mut cancel: tokio::sync::mpsc::Receiver<()>) -> String {
    let permit = pool.acquire(&lock_scope).await;
    let reply = tokio::select! {
        reply = user_reply() => reply,
        _ = cancel.recv() => String::new(),
    };
    drop(permit);
    reply
}

fn main() {}
