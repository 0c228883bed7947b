//! The job lifecycle the store, Postgres and restart tests drive: declared once.

use fixpoint::terminal_state;

#[terminal_state]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    #[initial]
    #[to(Running, Failed)]
    Queued,
    #[to(Done, Failed)]
    Running,
    #[terminal]
    Done,
    #[terminal]
    #[abandoned]
    Failed,
}
