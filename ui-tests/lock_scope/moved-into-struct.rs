use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

struct Session<'s> {
    permit: fixpoint::lock::Permit<'s>,
    user: &'static str,
}

#[lock_scope(no_unbounded_await)]
async fn ask(pool: &Semaphore) -> String {
    let session = Session { permit: pool.acquire(&lock_scope).await, user: "alice" };
    let reply = user_reply().await;
    drop(session.permit);
    reply + session.user
}

fn main() {}
