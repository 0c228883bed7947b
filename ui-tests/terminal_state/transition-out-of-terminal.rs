use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Done, Failed)] Queued,
    #[terminal] #[to(Queued)] Done,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
