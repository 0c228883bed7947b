use std::time::Duration;

use fixpoint::{lock_scope, lock::{Mutex, Semaphore}};

async fn user_reply() -> String {
    String::from("yes")
}

struct Agent {
    pool: Semaphore,
    answers: Mutex<Vec<String>>,
    runs: u32,
}

impl Agent {
    fn count_run(&mut self) {
        self.runs += 1;
    }
}

#[lock_scope(no_unbounded_await)]
impl Agent {
    async fn ask(&mut self) -> String {
        let limit = Duration::from_secs(1);
        let permit = self.pool.acquire_cloned(&lock_scope).await;
        // A second lock while the permit is held: only a bounded wait.
        let mut answers = self.answers.lock_cloned_timeout(&lock_scope, limit).await.unwrap();
        self.count_run(); // neither guard borrows `self`
        answers.push(String::from("asked"));
        drop(answers);
        drop(permit);
        let reply = user_reply().await;
        let again = self.pool.acquire_cloned_timeout(&lock_scope, limit).await;
        self.count_run();
        drop(again);
        reply
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut agent = Agent {
        pool: Semaphore::new("agents", 1),
        answers: Mutex::new("answers", Vec::new()),
        runs: 0,
    };
    assert_eq!(agent.ask().await, "yes");
    assert_eq!((agent.runs, agent.pool.gauges().in_flight), (2, 0));
}
