use fixpoint::{terminal_state, Tracked};

pub struct FollowUpId(pub u64);

#[terminal_state]
pub enum ProjectStatus {
    #[initial] #[to(Running, Failed)]     Initialized,
    #[to(InputNeeded, Completed, Failed)] Running,
    #[to(Running, Failed)]                InputNeeded(FollowUpId),
    #[terminal]                           Completed,
    #[terminal] #[abandoned]              Failed,
}

fn main() {
    let running = Tracked::<ProjectStatus, _, _>::new(()).to_running();
    let _waiting = running.to_input_needed();
}
