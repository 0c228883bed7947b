use std::time::Duration;

use fixpoint::bus::Bus;

/// Saves the question (which notifies), then waits for the answer: subscribed first.
async fn ask(answers: &Bus<u64, String>, recorded: Option<String>) -> String {
    let mut answer = answers.subscribe(7);
    answers.publish(&7, "yes".to_owned()).unwrap(); // stands for the write that notifies
    answer.wait_within(Duration::from_secs(1), || recorded).await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let answers = Bus::new();
    assert_eq!(ask(&answers, None).await, "yes");
    assert_eq!(ask(&answers, Some("recorded".to_owned())).await, "recorded");
    assert_eq!(answers.subscribers(&7), 0);
}
