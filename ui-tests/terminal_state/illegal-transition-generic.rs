use fixpoint::{terminal_state, Tracked};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

fn main() {
    let job = Tracked::<Job, _, _>::new("report");
    let _done = job.finish::<job::Done>(());
}
