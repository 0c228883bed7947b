use fixpoint::{lock_scope, lock::Semaphore};

pub struct Agent {
    pool: Semaphore,
}

#[lock_scope(no_unbounded_await)]
impl Agent {
    pub fn permits(&self) -> usize {
        self.pool.permits()
    }
}

fn main() {}
