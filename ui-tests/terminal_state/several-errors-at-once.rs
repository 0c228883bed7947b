use fixpoint::terminal_state;

#[terminal_state]
enum Job {
    #[to(Runing)] Queued,
    #[to(Done)] Running,
    #[terminal] #[to(Queued)] Done,
}

fn main() {}
