use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[terminal] Queued,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
