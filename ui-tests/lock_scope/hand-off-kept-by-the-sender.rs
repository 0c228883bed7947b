use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn dispatch(pool: Semaphore) -> usize {
    let permit = pool.acquire(&lock_scope).await;
    // A hand-off the sender could keep across its own wait: there is no way to make one; the
    // permit moves into a task with `permit.spawn(worker)`.
    let handoff = permit.hand_off();
    let reply = user_reply().await;
    drop(handoff);
    reply.len()
}

fn main() {}
