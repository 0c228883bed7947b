// A lifecycle declared without `resume` cannot be rebuilt from a stored row: reconciling the
// orphans of a crashed process names the missing argument.
use fixpoint::store::MemoryStore;
use fixpoint::task::Supervisor;
use fixpoint::terminal_state;

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

async fn restart(mut supervisor: Supervisor<Job, MemoryStore<Job>>) {
    let _ = supervisor
        .reconcile(|orphan| Some(async move { orphan.machine }))
        .await;
}

fn main() {
    drop(restart);
}
