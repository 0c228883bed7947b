//! A lifecycle's reviewed table as a snapshot: what a user's regression test writes, and what it
//! prints when someone widens an edge without reviewing it.
//!
//! `cargo run --example transition_snapshot --features testing`

use std::panic;

use fixpoint::terminal_state;
use fixpoint::testing::{assert_transitions_text, transitions_text};

/// The lifecycle as it is declared today: someone added `Queued -> Done` (a "fast path").
#[terminal_state]
pub enum Job {
    #[initial]
    #[to(Running, Done, Failed)]
    Queued,
    #[to(Done, Failed)]
    Running,
    #[terminal]
    Done,
    #[terminal]
    #[abandoned]
    Failed,
}

/// The table as it was reviewed: the snapshot a regression test keeps.
const REVIEWED: &str = "
    Queued  -> Running, Failed
    Running -> Done, Failed
    Done
    Failed
";

fn main() {
    println!("the declared table, as `transitions_text::<Job>()` prints it:\n");
    println!("{}", transitions_text::<Job>());
    println!("the test `assert_transitions_text::<Job>(REVIEWED)` fails with:\n");
    panic::set_hook(Box::new(|_| {}));
    let failure = panic::catch_unwind(|| assert_transitions_text::<Job>(REVIEWED))
        .expect_err("`Queued -> Done` is not in the reviewed table");
    let message = failure.downcast::<String>().map(|m| *m).unwrap_or_default();
    println!("{message}");
    assert!(message.contains("+ Queued -> Done"));
}
