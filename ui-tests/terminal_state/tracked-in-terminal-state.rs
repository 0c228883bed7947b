// A `Tracked` is a machine that is still running: it can be in an active state only. A
// finished machine is a `Terminal`, which nothing can move on.
use fixpoint::{terminal_state, Tracked};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

fn keep_going(job: Tracked<Job, job::Done, String>) {
    let _ = job;
}

fn main() {}
