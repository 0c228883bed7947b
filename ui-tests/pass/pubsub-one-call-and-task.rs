use std::time::Duration;

use fixpoint::{bus::{Bus, WaitError}};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let answers: Bus<String, u32> = Bus::new();
    let remote = answers.clone();
    let answer = answers
        .subscribe_then(
            "q1".to_owned(),
            || async move {
                tokio::spawn(async move { remote.publish(&"q1".to_owned(), 42).unwrap() });
            },
            || None,
            Some(Duration::from_secs(5)),
        )
        .await;
    assert_eq!(answer, Ok(42));

    // A subscription is owned: it can move into the task that waits.
    let mut subscription = answers.subscribe("q2".to_owned());
    let waiter = tokio::spawn(async move { subscription.wait_within(Duration::from_millis(20), || None).await });
    assert_eq!(waiter.await.unwrap(), Err(WaitError::TimedOut { limit: Duration::from_millis(20) }));
}
