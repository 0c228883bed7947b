use fixpoint::{terminal_state, store::MemoryStore, task::Supervisor};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

async fn launch(supervisor: &mut Supervisor<Job, MemoryStore<Job>>) {
    supervisor
        .spawn("job-1", (), |job| async move {
            // The body stops at `Running`: the row would stay non-terminal.
            job.to_running()
        })
        .await
        .unwrap();
}

fn main() {}
