use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Done)] Queued,
    #[initial] #[to(Done)] Scheduled,
    #[terminal] #[abandoned] Done,
}

fn main() {}
