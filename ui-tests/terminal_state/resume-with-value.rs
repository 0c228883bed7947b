use fixpoint::terminal_state;

#[terminal_state(resume = true)]
enum Job {
    #[initial] #[to(Done, Failed)] Queued,
    #[terminal] Done,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
