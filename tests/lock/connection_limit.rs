//! The ported tokio server of `examples/connection_limit.rs`, driven over real TCP on loopback:
//! 250 clients served at once, the 251st connected but not served until one of them leaves.

use std::time::Duration;

use fixpoint::lock::Semaphore;
use tokio::net::TcpListener;

#[path = "../../examples/connection_limit.rs"]
#[allow(dead_code, reason = "the example's own `main` is not run here")]
mod example;

use example::{Client, LIMIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_251st_client_waits_for_a_slot_and_is_served_when_one_leaves() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limit = Semaphore::new("connections", LIMIT);
    let server = tokio::spawn(example::run(listener, limit.clone()));

    // 250 clients at once, every one of them answered while all are connected.
    let mut clients = Vec::with_capacity(LIMIT);
    for n in 0..LIMIT {
        let mut client = Client::connect(address).await.unwrap();
        client.send(&format!("hello {n}")).await.unwrap();
        clients.push(client);
    }
    for (n, client) in clients.iter_mut().enumerate() {
        let reply = client.reply().await.unwrap();
        assert_eq!(reply.as_deref(), Some(format!("HELLO {n}").as_str()));
    }
    assert_eq!(
        limit.gauges().in_flight,
        LIMIT,
        "one slot per open connection"
    );

    // The 251st: connected by the kernel, not accepted, not answered.
    let mut last = Client::connect(address).await.unwrap();
    last.send("hello last").await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), last.reply()).await;
    assert!(early.is_err(), "served past the limit: {early:?}");
    assert_eq!(limit.gauges().in_flight, LIMIT);

    // One leaves: its slot goes to the waiting client.
    drop(clients.swap_remove(17));
    let reply = tokio::time::timeout(Duration::from_secs(10), last.reply())
        .await
        .expect("the 251st client is served once a slot is free")
        .unwrap();
    assert_eq!(reply.as_deref(), Some("HELLO LAST"));

    // The others are still served, and every slot comes back when all leave.
    let mut other = clients.pop().unwrap();
    other.send("still here").await.unwrap();
    assert_eq!(other.reply().await.unwrap().as_deref(), Some("STILL HERE"));
    drop((clients, other, last));
    let freed = tokio::time::timeout(Duration::from_secs(10), async {
        while limit.gauges().in_flight > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // One slot stays taken: the listener holds it for the next client.
    assert!(freed.is_ok(), "slots still held: {:?}", limit.gauges());
    server.abort();
}
