use fixpoint::terminal_state;

#[terminal_state]
enum Job<E> {
    #[initial] #[to(Done, Failed)] Queued,
    #[terminal] Done,
    #[terminal] #[abandoned] Failed,
    #[terminal] Errored(E),
}

fn main() {}
