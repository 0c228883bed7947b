use fixpoint::lock_scope;

#[tokio::test]
#[tracing::instrument]
#[lock_scope(no_unbounded_await)]
async fn ask() {
    tokio::task::yield_now().await;
}

fn main() {}
