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
            let _done = job.to_running().to_done();
        })
        .await
        .unwrap();
}

fn main() {}
