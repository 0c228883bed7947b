use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[to(Done)] Queued,
    #[terminal] #[abandoned] Done,
}

fn main() {}
