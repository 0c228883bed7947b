use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Running)] Queued,
    #[to(Queued)] Running,
}

fn main() {}
