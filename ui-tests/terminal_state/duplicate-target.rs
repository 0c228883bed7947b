use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Failed, Done, Failed)] Queued,
    #[terminal] Done,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
