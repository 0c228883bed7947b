use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn serve(pool: &Semaphore) {
    let mut held = None;
    loop {
        // From the second iteration on, the permit taken below is still held here.
        let request = user_reply().await;
        if request.is_empty() {
            break;
        }
        held = pool.try_acquire(&lock_scope);
    }
    drop(held);
}

fn main() {}
