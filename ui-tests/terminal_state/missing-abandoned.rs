use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Done, Failed)] Queued,
    #[terminal] Done,
    #[terminal] Failed,
}

fn main() {}
