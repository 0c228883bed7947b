use fixpoint::{lock_scope, lock::Semaphore};

#[lock_scope(no_unbounded_await)]
fn ask(pool: &Semaphore) -> usize {
    pool.permits()
}

fn main() {}
