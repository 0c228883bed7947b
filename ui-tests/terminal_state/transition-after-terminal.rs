use fixpoint::{terminal_state, Terminal, Tracked};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

fn main() {
    let done: Terminal<Job, &str> = Tracked::<Job, _, _>::new("report").to_running().to_done();
    let _again = done.to_running();
}
