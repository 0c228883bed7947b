//! One lifecycle in three forms over a service's life, for the tests that open one table with
//! each in turn (the SQL stores' migrations): as first declared, grown (a state and two edges
//! more), and grown differently (`Paused` gone again, `Canary` new).

pub mod v1 {
    #[fixpoint::terminal_state]
    #[derive(Debug)]
    pub enum Rollout {
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
}

/// The same lifecycle, grown: a state and two edges more.
pub mod v2 {
    #[fixpoint::terminal_state]
    #[derive(Debug)]
    pub enum Rollout {
        #[initial]
        #[to(Running, Failed)]
        Queued,
        #[to(Done, Paused, Failed)]
        Running,
        #[to(Running, Failed)]
        Paused,
        #[terminal]
        Done,
        #[terminal]
        #[abandoned]
        Failed,
    }
}

/// Grown differently: `Paused` gone again.
pub mod v3 {
    #[fixpoint::terminal_state]
    #[derive(Debug)]
    pub enum Rollout {
        #[initial]
        #[to(Running, Failed)]
        Queued,
        #[to(Done, Canary, Failed)]
        Running,
        #[to(Done, Failed)]
        Canary,
        #[terminal]
        Done,
        #[terminal]
        #[abandoned]
        Failed,
    }
}
