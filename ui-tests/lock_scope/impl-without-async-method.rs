use fixpoint::{lock_scope, lock::Semaphore};

pub struct Agent {
    pool: Semaphore,
}

#[lock_scope(no_unbounded_await)]
impl Agent {
    pub fn permits(&self) -> usize {
        self.pool.permits()
    }

    // Not async: the block it hands to the runtime is no body of its own (only a tail
    // `Box::pin(async ..)`, as `#[async_trait]` writes it, is).
    pub fn warm_up(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async {})
    }

    // Not async either: its `let body = async ..` is no body `#[tokio::main]` wrapped, for
    // no runtime blocks on it.
    pub fn later(&self) -> impl std::future::Future<Output = ()> {
        let body = async {};
        body
    }

    // Nor is a future boxed without being pinned.
    pub fn boxed(&self) -> Box<impl std::future::Future<Output = ()>> {
        Box::new(async {})
    }
}

fn main() {}
