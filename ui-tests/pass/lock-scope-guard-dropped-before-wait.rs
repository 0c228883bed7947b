use fixpoint::{lock_scope, lock::{Mutex, RwLock}};

async fn user_reply() -> String {
    String::from("yes")
}

#[lock_scope(no_unbounded_await)]
async fn ask(answers: &Mutex<Vec<String>>, config: &RwLock<String>) -> String {
    let asked = answers.lock(&lock_scope).await.len();
    let name = config.read(&lock_scope).await.clone();
    let mut list = answers.lock(&lock_scope).await;
    list.push(name);
    drop(list);
    let mut written = config.write(&lock_scope).await;
    written.push('!');
    drop(written);
    let reply = user_reply().await;
    answers.lock(&lock_scope).await.push(reply.clone());
    format!("{asked} {reply}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let answers = Mutex::new("answers", Vec::new());
    let config = RwLock::new("config", String::from("agents"));
    assert_eq!(ask(&answers, &config).await, "0 yes");
    assert_eq!(answers.gauges().in_flight + config.gauges().in_flight, 0);
}
