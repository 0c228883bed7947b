use fixpoint::{terminal_state, Tracked};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

fn main() {
    let queued = Tracked::<Job, _, _>::new("report");
    let _running = queued.to_running();
    let _failed = queued.to_failed();
}
