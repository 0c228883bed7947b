//! A rule that lived in a comment, and the `None` it let through.
//!
//! "When a project's status is `InputNeeded`, a follow-up row exists." No constructor, setter,
//! validator or constraint enforced it. The first code path that broke it handed a `None` to
//! code with no `None` handling. Here the same rule is an `#[invariant]`: the path that breaks
//! it is refused where it happens, with the rule's name and the offending value, and the
//! project keeps the state it had.
//!
//! Run it with `cargo run --example follow_up`.

use fixpoint::invariant::Checked;

/// Where a project is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The agent works.
    Running,
    /// Waiting for the user to answer a follow-up question.
    InputNeeded,
}

mod before {
    use super::Status;

    /// A project.
    ///
    /// NOTE: when `status` is `InputNeeded`, `follow_up` is `Some`.
    #[derive(Debug)]
    pub struct Project {
        pub status: Status,
        pub follow_up: Option<u64>,
    }
}

mod after {
    use fixpoint::invariant;

    use super::Status;

    /// A project. The note became a contract.
    #[invariant(
        name = follow_up_exists,
        self.status != Status::InputNeeded || self.follow_up.is_some(),
        "a project waiting for input has a follow-up row"
    )]
    #[derive(Debug, Clone)]
    pub struct Project {
        status: Status,
        follow_up: Option<u64>,
    }

    impl Project {
        /// A running project with no question pending.
        pub fn running() -> Self {
            Project {
                status: Status::Running,
                follow_up: None,
            }
        }
    }
}

/// The code downstream that trusted the comment.
fn render_question(follow_up: Option<u64>) -> String {
    match follow_up {
        Some(id) => format!("showing follow-up #{id}"),
        None => "PANIC in production: called `Option::unwrap()` on a `None` value".to_owned(),
    }
}

fn main() {
    println!("Before: the rule is a comment\n");
    let mut project = before::Project {
        status: Status::Running,
        follow_up: None,
    };
    // A new code path sets the status and forgets the row.
    project.status = Status::InputNeeded;
    println!("  the project is now {project:?}");
    println!("  the UI renders: {}\n", render_question(project.follow_up));

    println!("After: the rule is an #[invariant]\n");
    use after::ProjectChecked as _;
    let mut project = Checked::new(after::Project::running()).expect("a running project is valid");
    match project.set_status(Status::InputNeeded) {
        Ok(_) => println!("  unexpected: the change was accepted"),
        Err(refused) => {
            println!("  the same write is refused: {}", refused.violation());
            println!(
                "  the refused value comes back: {:?}",
                refused.into_rejected()
            );
        }
    }
    println!("  the project keeps its state: {:?}", *project);

    // The right order: the row first, then the status.
    project
        .set_follow_up(Some(42))
        .expect("a follow-up on a running project is fine");
    project
        .set_status(Status::InputNeeded)
        .expect("now the rule holds");
    println!("  with the row written first: {:?}", *project);
    println!(
        "  the UI renders: {}",
        render_question(*project.follow_up())
    );

    // In tests, every fixture is checked against every rule in one call.
    let fixtures = [after::Project::running()];
    fixpoint::invariant::assert_all_hold(&fixtures);
    println!("  fixtures checked against every rule: {}", fixtures.len());
}
