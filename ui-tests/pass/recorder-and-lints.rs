//! Generated code stays quiet under strict lints, and recorders of every shape plug in.
#![deny(warnings, missing_docs, unused_qualifications, unreachable_pub)]

use std::sync::{Arc, Mutex};

use fixpoint::{terminal_state, Event, Recorder, Tracked};

/// A job.
#[terminal_state]
pub enum Job {
    /// Queued.
    #[initial] #[to(Running, Failed)] Queued,
    /// Running.
    #[to(Done, Failed)] Running,
    /// Done.
    #[terminal] Done,
    /// Failed.
    #[terminal] #[abandoned] Failed,
}

struct Log(Mutex<Vec<String>>);

impl Recorder<Job> for Log {
    fn record(&self, event: Event<Job>) {
        self.0.lock().unwrap().push(event.to_string());
    }
}

fn main() {
    let log = Arc::new(Log(Mutex::new(Vec::new())));
    let shared: Arc<dyn Recorder<Job> + Send + Sync> = log.clone();
    let _ = Tracked::<Job, _, _>::new(()).with_recorder(shared).to_running().to_done();
    drop(Tracked::<Job, _, _>::new(()).with_recorder(log.clone()));
    let closure = |event: Event<Job>| assert_eq!(event.to.name(), "Failed");
    let _ = Tracked::<Job, _, _>::new(()).with_recorder(closure).to_failed();
    assert_eq!(
        *log.0.lock().unwrap(),
        ["Job: Queued -> Running", "Job: Running -> Done", "Job: Queued -> Failed (abandoned: dropped)"]
    );
}
