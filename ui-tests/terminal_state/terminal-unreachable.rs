use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Retrying)] Running,
    #[to(Running)] Retrying,
    #[terminal] #[abandoned] Failed,
}

fn main() {}
