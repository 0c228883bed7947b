use fixpoint::{lock_scope, lock::Semaphore};

#[lock_scope(no_unbounded_await)]
struct Agent {
    pool: Semaphore,
}

fn main() {}
