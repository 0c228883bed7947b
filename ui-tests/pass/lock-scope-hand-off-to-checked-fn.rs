// The ported listener, written as the guide shows: the connection's task is a checked fn that
// receives the permit as a `HandOff`, handed off with the connection by a closure that only
// calls it. Its awaits are checked like the listener's own.
use std::time::Duration;

use fixpoint::{
    lock::{HandOff, Semaphore, bounded},
    lock_scope,
};

struct Connection(u32);

async fn read_request(connection: &Connection) -> u32 {
    connection.0
}

#[lock_scope(no_unbounded_await)]
async fn serve(permit: HandOff, connection: Connection) -> u32 {
    // Bounded work may hold the permit; the connection's task gives it back when it ends.
    let request = bounded(Duration::from_secs(5), read_request(&connection))
        .await
        .unwrap_or(0);
    drop(permit);
    request
}

#[lock_scope(no_unbounded_await)]
async fn worker(permit: HandOff) {
    drop(permit);
}

#[lock_scope(no_unbounded_await)]
async fn run(limit: Semaphore) -> u32 {
    let mut served = 0;
    for id in 0..3 {
        let permit = limit.acquire(&lock_scope).await;
        let connection = Connection(id);
        served += permit
            .spawn(move |permit| serve(permit, connection))
            .await
            .unwrap();
    }
    let permit = limit.acquire(&lock_scope).await;
    permit.spawn(worker).await.unwrap();
    served
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let limit = Semaphore::new("connections", 2);
    assert_eq!(run(limit.clone()).await, 3);
    assert_eq!(limit.gauges().in_flight, 0);
}
