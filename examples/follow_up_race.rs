//! Waiting for an answer that already arrived.
//!
//! A handler saved a follow-up question (which notified listeners), set the status, and only
//! then subscribed to wait for the answer. An answer that arrived in between went to a topic
//! with no listener and was dropped; the handler waited forever. With `fixpoint::bus::Bus` the only
//! way to wait is a subscription opened before the write, and the wait re-checks the store
//! first, so the answer is found whenever it came.
//!
//! Run it with `cargo run --example follow_up_race`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fixpoint::bus::{Bus, WaitError};

/// The answers table: the user's answer is recorded here, then announced on the bus.
type Answers = Arc<Mutex<HashMap<u64, String>>>;

/// The user, answering at once from another task.
fn user_answers_at_once(bus: &Bus<u64, String>, answers: &Answers, question: u64) {
    let (bus, answers) = (bus.clone(), Arc::clone(answers));
    tokio::spawn(async move {
        answers
            .lock()
            .unwrap()
            .insert(question, "use the staging database".to_owned());
        let _ = bus.publish(&question, "use the staging database".to_owned());
    });
}

/// Before: write, do other work, then subscribe. The wait is bounded here only so that the
/// example ends; in production it had no bound.
async fn handler_before(
    bus: &Bus<u64, String>,
    answers: &Answers,
    question: u64,
) -> Result<String, WaitError> {
    user_answers_at_once(bus, answers, question); // saving the question notifies the user
    tokio::time::sleep(Duration::from_millis(5)).await; // setting the status, logging, ...
    let mut answer = bus.subscribe(question);
    answer
        .wait_within(Duration::from_millis(200), || None)
        .await
}

/// After: subscribe, write, then wait with the re-check.
async fn handler_after(
    bus: &Bus<u64, String>,
    answers: &Answers,
    question: u64,
) -> Result<String, WaitError> {
    let answers_now = Arc::clone(answers);
    bus.subscribe_then(
        question,
        || async {
            user_answers_at_once(bus, answers, question);
            tokio::time::sleep(Duration::from_millis(5)).await;
        },
        move || answers_now.lock().unwrap().get(&question).cloned(),
        Some(Duration::from_millis(200)),
    )
    .await
}

#[tokio::main]
async fn main() {
    let bus: Bus<u64, String> = Bus::new();
    let answers: Answers = Arc::default();

    println!("Before: write, then subscribe");
    match handler_before(&bus, &answers, 1).await {
        Ok(answer) => println!("  got {answer:?} (the race went the lucky way this time)"),
        Err(error) => println!("  {error}: the answer came before the subscription and was lost"),
    }

    println!("After: subscribe, write, re-check, wait");
    match handler_after(&bus, &answers, 2).await {
        Ok(answer) => println!("  got {answer:?}"),
        Err(error) => println!("  unexpected: {error}"),
    }

    // Even an answer recorded before the subscription (a reconnect) is found, by the re-check.
    answers
        .lock()
        .unwrap()
        .insert(3, "already answered".to_owned());
    let recorded = answers.lock().unwrap().get(&3).cloned();
    let mut answer = bus.subscribe(3);
    println!("  recorded earlier: {:?}", answer.wait(|| recorded).await);
}
