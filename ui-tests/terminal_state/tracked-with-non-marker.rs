// The state parameter of a `Tracked` is one of the markers `#[terminal_state]` generates in
// the lifecycle's module (`job::Running`), never the enum itself or another type.
use fixpoint::{terminal_state, Tracked};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

fn run(job: Tracked<Job, Job, String>) {
    let _ = job;
}

fn main() {}
