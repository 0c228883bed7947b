use fixpoint::terminal_state;

#[terminal_state(module = "job_states")]
enum Job {
    #[initial] #[to(Done, Failed)] Queued,
    #[terminal] Done,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
