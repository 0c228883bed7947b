use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Running, Done)] Queued,
    #[abandoned] #[to(Done)] Running,
    #[terminal] Done,
}

fn main() {}
