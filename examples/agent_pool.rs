//! The 93-minute stall, replayed in a second.
//!
//! Two agent runs at a time were allowed, by a semaphore acquired when a client started and
//! released when it ended. Later a feature made the client wait for the user's reply inside
//! that scope. Two users closed their laptops; both permits stayed held; new work queued
//! silently behind them.
//!
//! Part 1 runs that code (outside the contract, which its scope says) and shows what the
//! acquisition timeout reports. Part 2 runs the contract version: the reply is awaited with the
//! permit released, so abandoned sessions hold nothing and the pool keeps serving. Holding the
//! permit across the reply does not compile there; see `ui-tests/lock_scope/`.
//!
//! Run it with `cargo run --example agent_pool`.

use std::time::Duration;

use fixpoint::{
    lock::{LockScope, Semaphore, bounded},
    lock_scope,
};

/// How long the agent may think while it holds a permit.
const THINKING_LIMIT: Duration = Duration::from_secs(5);

/// A user's reply; a user whose name starts with `gone` closed the laptop and never answers.
async fn user_reply(user: &str) -> String {
    if user.starts_with("gone") {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    format!("{user}: yes")
}

/// The agent's bounded work between two questions.
async fn think() {
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Before: the permit spans the whole client, user wait included.
async fn client_before(pool: Semaphore, user: String) -> String {
    let scope = LockScope::unchecked("the pre-contract client, kept to show the stall");
    let permit = pool.acquire(&scope).await;
    permit.set_label(format!("agent run for {user}"));
    think().await;
    let reply = user_reply(&user).await; // the permit is still held here
    drop(permit);
    reply
}

/// After: the contract. The permit covers the agent's work only, and that work is visibly
/// bounded; the user wait happens with the slot given back, and the agent takes one again,
/// within a bound, to continue.
#[lock_scope(no_unbounded_await)]
async fn client_after(
    pool: Semaphore,
    user: String,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let permit = pool
        .acquire_timeout(&lock_scope, Duration::from_secs(1))
        .await?;
    permit.set_label(format!("agent run for {user}"));
    bounded(THINKING_LIMIT, think()).await?;
    let released = permit.release();
    let reply = user_reply(&user).await;
    let permit = released
        .reacquire_timeout(&lock_scope, Duration::from_secs(1))
        .await?;
    bounded(THINKING_LIMIT, think()).await?;
    drop(permit);
    Ok(reply)
}

#[lock_scope(no_unbounded_await)]
async fn new_request(pool: &Semaphore) -> Result<(), fixpoint::lock::AcquireTimeout> {
    let permit = pool
        .acquire_timeout(&lock_scope, Duration::from_millis(200))
        .await?;
    drop(permit);
    Ok(())
}

#[tokio::main]
async fn main() {
    println!("Part 1: the permit is held across the user's reply\n");
    let pool = Semaphore::new("agent-runs", 2);
    let gone: Vec<_> = ["gone-alice", "gone-bob"]
        .into_iter()
        .map(|user| tokio::spawn(client_before(pool.clone(), user.to_owned())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("gauges: {:?}", pool.gauges());
    match new_request(&pool).await {
        Ok(()) => println!("unexpected: a permit came free"),
        Err(stalled) => println!("a new request gives up and says why:\n  {stalled}\n"),
    }
    gone.iter().for_each(|task| task.abort());

    println!("Part 2: the contract version keeps serving\n");
    let pool = Semaphore::new("agent-runs", 2);
    let users = ["gone-carol", "gone-dave", "erin", "frank", "grace"];
    let clients: Vec<_> = users
        .into_iter()
        .map(|user| tokio::spawn(client_after(pool.clone(), user.to_owned())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("gauges while two users are gone: {:?}", pool.gauges());
    new_request(&pool).await.expect("the pool is not stalled");
    println!("a new request got a permit at once");
    for (user, client) in users.into_iter().zip(clients) {
        if user.starts_with("gone") {
            client.abort();
            println!("{user}: still waiting for a reply, holding no permit");
        } else {
            println!("{}", client.await.unwrap().unwrap());
        }
    }
}
