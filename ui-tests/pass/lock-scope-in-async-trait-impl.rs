use async_trait::async_trait;
use fixpoint::{lock_scope, lock::Semaphore};
use tracing::instrument;

async fn user_reply() -> String {
    String::from("yes")
}

#[async_trait]
trait Agent {
    async fn run(&self, pool: &Semaphore) -> String;
    async fn idle(&self) -> String;
}

struct OnMethod;

#[async_trait]
impl Agent for OnMethod {
    #[lock_scope(no_unbounded_await)]
    async fn run(&self, pool: &Semaphore) -> String {
        let permit = pool.acquire(&lock_scope).await;
        drop(permit);
        user_reply().await
    }

    async fn idle(&self) -> String {
        user_reply().await
    }
}

struct OnBlockBelowAsyncTrait;

#[async_trait]
#[lock_scope(no_unbounded_await)]
impl Agent for OnBlockBelowAsyncTrait {
    async fn run(&self, pool: &Semaphore) -> String {
        let permit = pool.acquire(&lock_scope).await;
        drop(permit);
        user_reply().await
    }

    async fn idle(&self) -> String {
        user_reply().await
    }
}

struct OnBlockAboveAsyncTrait;

#[lock_scope(no_unbounded_await)]
#[async_trait]
impl Agent for OnBlockAboveAsyncTrait {
    async fn run(&self, pool: &Semaphore) -> String {
        let permit = pool.acquire(&lock_scope).await;
        drop(permit);
        user_reply().await
    }

    async fn idle(&self) -> String {
        user_reply().await
    }
}

struct WithInstrument;

#[async_trait]
impl Agent for WithInstrument {
    #[instrument(skip_all)]
    #[lock_scope(no_unbounded_await)]
    async fn run(&self, pool: &Semaphore) -> String {
        let permit = pool.acquire(&lock_scope).await;
        drop(permit);
        user_reply().await
    }

    #[lock_scope(no_unbounded_await)]
    #[instrument(skip_all)]
    async fn idle(&self) -> String {
        user_reply().await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Semaphore::new("agents", 1);
    let agents: [&dyn Agent; 4] =
        [&OnMethod, &OnBlockBelowAsyncTrait, &OnBlockAboveAsyncTrait, &WithInstrument];
    for agent in agents {
        assert_eq!(agent.run(&pool).await + &agent.idle().await, "yesyes");
    }
}
