//! An impl block's `#[lock_scope]` keeps its methods' own attributes, and takes a method's
//! repeated `#[lock_scope]` into the block's scope.

use fixpoint::{lock_scope, lock::Semaphore};

async fn user_reply() -> String {
    String::from("yes")
}

pub struct Agent {
    pool: Semaphore,
}

#[lock_scope(no_unbounded_await)]
impl Agent {
    // Compiled out by its attribute: without it, this body would not type-check.
    #[cfg(any())]
    pub async fn gone(&self) -> u8 {
        "not a number"
    }

    // Repeated: the block's attribute covers the method already.
    #[lock_scope(no_unbounded_await)]
    pub async fn run(&self) -> String {
        let permit = self.pool.acquire(&lock_scope).await;
        drop(permit);
        user_reply().await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let agent = Agent { pool: Semaphore::new("agents", 1) };
    assert_eq!(agent.run().await, "yes");
}
