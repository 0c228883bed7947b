//! Generated code stays quiet under strict lints: `cargo clippy --all-targets` checks this file
//! with pedantic lints denied, so a lint the macro trips in users' crates fails CI here first.
#![deny(
    warnings,
    missing_docs,
    unused_qualifications,
    unreachable_pub,
    clippy::all,
    clippy::pedantic
)]

use fixpoint::{Lifecycle, Tracked, terminal_state};

/// An id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpId(pub u64);

/// Every shape of state: unit, tuple, several fields, named fields.
#[terminal_state]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shapes {
    /// Unit.
    #[initial]
    #[to(Tuple, Pair, Named, Aborted)]
    Start,
    /// One field.
    #[to(Pair, Aborted)]
    Tuple(FollowUpId),
    /// Two fields.
    #[to(Named, Aborted)]
    Pair(u8, String),
    /// Named fields.
    #[to(Done, Aborted)]
    Named {
        /// How far.
        progress: u32,
        /// Who.
        owner: String,
    },
    /// Done, with a result.
    #[terminal]
    Done(u64),
    /// Abandoned.
    #[terminal]
    #[abandoned]
    Aborted,
}

mod private {
    use fixpoint::terminal_state;

    /// Private lifecycles generate private items.
    #[terminal_state]
    pub(crate) enum Inner {
        #[initial]
        #[to(End)]
        Begin,
        #[terminal]
        #[abandoned]
        End,
    }
}

#[test]
fn every_shape_round_trips() {
    let machine = Tracked::<Shapes, _, _>::new(1_u8)
        .to_tuple(FollowUpId(2))
        .to_pair(3, "three".into())
        .to_named(4, "owner".into());
    assert_eq!(
        Tracked::status(&machine),
        Shapes::Named {
            progress: 4,
            owner: "owner".into()
        }
    );
    let done = machine.to_done(5);
    assert_eq!(done.status(), &Shapes::Done(5));
    assert_eq!(Shapes::Done(5).state().name(), "Done");
    let _ = Tracked::<private::Inner, _, _>::new(()).to_end();
}

use private::InnerTransitions as _;
