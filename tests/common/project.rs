//! The project row's lifecycle, as the fleet example writes it to SQLite: the tests that open
//! the example's file, or drive the same rows, share this one declaration.

use fixpoint::terminal_state;

#[terminal_state(resume)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectStatus {
    #[initial]
    #[to(Running, Failed)]
    Initialized,
    #[to(Completed, Failed)]
    Running,
    #[terminal]
    Completed,
    #[terminal]
    #[abandoned]
    Failed,
}
