use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Runing, Failed)] Queued,
    #[to(Failed)] Running,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
