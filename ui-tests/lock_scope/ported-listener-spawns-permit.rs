// The natural port of tokio's connection-limit listener: the permit acquired before `accept`,
// then moved into `tokio::spawn` with the connection. One error, at the spawn, naming the
// hand-off; no lifetime errors after it.
use fixpoint::{lock::Semaphore, lock_scope};

struct Listener;
struct Connection;

impl Listener {
    async fn accept(&self) -> Connection {
        Connection
    }
}

async fn handle(_connection: Connection) {}

#[lock_scope(no_unbounded_await)]
async fn run(listener: Listener, limit: Semaphore) {
    loop {
        let permit = limit.acquire(&lock_scope).await;
        let connection = listener.accept().await;
        tokio::spawn(async move {
            handle(connection).await;
            drop(permit);
        });
    }
}

fn main() {}
