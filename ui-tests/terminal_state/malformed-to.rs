use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to = "Done"] Queued,
    #[terminal] Done,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
