use fixpoint::{terminal_state, Terminal, Tracked};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

fn run(job: Tracked<Job, job::Queued, &'static str>) -> Terminal<Job, &'static str> {
    job.to_running()
}

fn main() {
    let _ = run(Tracked::new("report"));
}
