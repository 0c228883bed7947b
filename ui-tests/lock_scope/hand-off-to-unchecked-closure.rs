// A permit handed to a task no #[lock_scope] checks: the closure's async block holds it across
// a wait for user input. `Permit::spawn` takes only a checked fn's task.
use fixpoint::{lock::Semaphore, lock_scope};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn dispatch(pool: Semaphore) {
    let permit = pool.acquire(&lock_scope).await;
    permit.spawn(|handoff| async move {
        let _held = handoff;
        user_reply().await;
    });
}

fn main() {}
