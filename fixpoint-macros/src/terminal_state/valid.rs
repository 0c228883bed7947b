//! Rules across the states of a lifecycle. Each `check_*` states its rule in one line and
//! records every violation it finds, so a user sees all of them in one build.

use std::collections::BTreeSet;

use super::model::{Machine, StateDecl};
use crate::ctxt::Errors;
use crate::names;

pub(crate) fn validate(machine: &Machine<'_>, errors: &mut Errors) {
    check_generics(machine, errors);
    check_has_states(machine, errors);
    check_initial(machine, errors);
    check_has_terminal(machine, errors);
    check_abandoned(machine, errors);
    check_terminal_edges(machine, errors);
    check_targets(machine, errors);
    check_reachability(machine, errors);
    check_generated_names(machine, errors);
}

/// A lifecycle enum has no generic parameters: its markers and impls are per enum.
fn check_generics(machine: &Machine<'_>, errors: &mut Errors) {
    let generics = &machine.original.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        errors.spanned(
            generics,
            "a #[terminal_state] enum cannot be generic; keep the lifecycle's states plain and \
             carry the varying data in the value of `Tracked<Lifecycle, State, T>`",
        );
    }
}

/// A lifecycle has at least one state, and no more than a `u16` can number.
fn check_has_states(machine: &Machine<'_>, errors: &mut Errors) {
    if machine.states.is_empty() {
        errors.spanned(
            machine.ident,
            "a #[terminal_state] enum needs its states as variants: one `#[initial]`, and at \
             least one `#[terminal]`",
        );
    }
    if machine.states.len() > usize::from(u16::MAX) {
        errors.spanned(machine.ident, "a lifecycle can have at most 65535 states");
    }
}

/// Exactly one state is `#[initial]`, and it is not `#[terminal]`.
fn check_initial(machine: &Machine<'_>, errors: &mut Errors) {
    let initials: Vec<_> = machine.states.iter().filter_map(|s| s.initial).collect();
    if initials.is_empty() && !machine.states.is_empty() {
        let name = machine.ident;
        errors.spanned(
            name,
            format_args!(
                "lifecycle `{name}` has no #[initial] state; mark the state a new machine \
                 starts in with #[initial]"
            ),
        );
    }
    for extra in initials.iter().skip(1) {
        errors.spanned(
            extra,
            "a lifecycle has exactly one #[initial] state; remove this one or the other",
        );
    }
    for state in machine.states.iter().filter(|s| s.initial.is_some()) {
        if let Some(terminal) = state.terminal {
            errors.spanned(
                terminal,
                format_args!(
                    "the #[initial] state `{}` cannot be #[terminal]: a machine would finish \
                     before it starts; start in a state that leads to the terminal one",
                    state.ident
                ),
            );
        }
    }
}

/// At least one state is `#[terminal]`: a lifecycle must be able to finish.
fn check_has_terminal(machine: &Machine<'_>, errors: &mut Errors) {
    if !machine.states.is_empty() && !machine.states.iter().any(StateDecl::is_terminal) {
        let name = machine.ident;
        errors.spanned(
            name,
            format_args!(
                "lifecycle `{name}` has no #[terminal] state, so no machine of it can finish; \
                 mark the final states with #[terminal]"
            ),
        );
    }
}

/// Exactly one state is `#[abandoned]`, and it is a terminal unit variant.
fn check_abandoned(machine: &Machine<'_>, errors: &mut Errors) {
    let abandoned: Vec<_> = machine
        .states
        .iter()
        .filter(|s| s.abandoned.is_some())
        .collect();
    if abandoned.is_empty() && !machine.states.is_empty() {
        let name = machine.ident;
        errors.spanned(
            name,
            format_args!(
                "lifecycle `{name}` has no #[abandoned] state to record when an owner is lost; \
                 mark one terminal state with it, e.g. `#[terminal] #[abandoned] Failed`"
            ),
        );
    }
    for extra in abandoned.iter().skip(1) {
        errors.spanned(
            extra.abandoned,
            "a lifecycle has exactly one #[abandoned] state; remove this one or the other",
        );
    }
    for state in abandoned {
        if !state.is_terminal() {
            errors.spanned(
                state.abandoned,
                format_args!(
                    "#[abandoned] state `{}` must be #[terminal]: an abandoned machine has no \
                     owner left to move it on; add #[terminal]",
                    state.ident
                ),
            );
        }
        if state.carries_data() {
            errors.spanned(
                state.fields(),
                format_args!(
                    "#[abandoned] state `{}` cannot carry data: it is recorded when no owner is \
                     left to supply any; make it a unit variant",
                    state.ident
                ),
            );
        }
    }
}

/// A `#[terminal]` state declares no `#[to(..)]`: nothing follows the end of a lifecycle.
fn check_terminal_edges(machine: &Machine<'_>, errors: &mut Errors) {
    for state in machine.states.iter().filter(|s| s.is_terminal()) {
        if let Some(to) = &state.to {
            errors.spanned(
                to.attr,
                format_args!(
                    "terminal state `{}` cannot have transitions; remove #[to(..)], or remove \
                     #[terminal] if the lifecycle goes on from here",
                    state.ident
                ),
            );
        }
    }
}

/// Every `#[to(..)]` target names a state of this enum, once.
fn check_targets(machine: &Machine<'_>, errors: &mut Errors) {
    let names: Vec<String> = machine.states.iter().map(|s| s.name.clone()).collect();
    for to in machine.states.iter().filter_map(|s| s.to.as_ref()) {
        let mut seen = BTreeSet::new();
        for (target, resolved) in to.idents.iter().zip(&to.resolved) {
            if resolved.is_none() {
                let hint =
                    match names::closest(&target.to_string(), names.iter().map(String::as_str)) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("the states are {}", quoted(&names)),
                    };
                errors.spanned(
                    target,
                    format_args!("#[to(..)] names unknown state `{target}`; {hint}"),
                );
            } else if !seen.insert(*resolved) {
                errors.spanned(
                    target,
                    format_args!("duplicate target `{target}` in #[to(..)]; list each state once"),
                );
            }
        }
    }
}

/// From every non-terminal state some terminal state can be reached.
///
/// Skipped where an earlier error already explains the state: a machine with no terminal
/// state, a malformed `#[to]`, or an unknown target.
fn check_reachability(machine: &Machine<'_>, errors: &mut Errors) {
    if !machine.states.iter().any(StateDecl::is_terminal) {
        return;
    }
    let finishing = finishing_states(machine);
    for (index, state) in machine.states.iter().enumerate() {
        let unknown_target = state
            .to
            .as_ref()
            .is_some_and(|to| to.resolved.contains(&None));
        if finishing.contains(&index) || state.to_malformed || unknown_target {
            continue;
        }
        let what = if state.to.is_none() {
            "has no #[to(..)] transitions and is not #[terminal]"
        } else {
            "cannot reach a terminal state"
        };
        errors.spanned(
            state.ident,
            format_args!(
                "state `{}` {what}, so a machine in it could never finish; add a #[to(..)] edge \
                 toward a terminal state, or mark it #[terminal]",
                state.ident
            ),
        );
    }
}

/// The states from which a terminal state is reachable (terminal ones included).
fn finishing_states(machine: &Machine<'_>) -> BTreeSet<usize> {
    let mut finishing: BTreeSet<usize> = machine
        .states
        .iter()
        .enumerate()
        .filter(|(_, state)| state.is_terminal())
        .map(|(index, _)| index)
        .collect();
    loop {
        let before = finishing.len();
        for (index, state) in machine.states.iter().enumerate() {
            if machine
                .successors(state)
                .iter()
                .any(|s| finishing.contains(s))
            {
                finishing.insert(index);
            }
        }
        if finishing.len() == before {
            return finishing;
        }
    }
}

/// The generated method names of two states never collide.
fn check_generated_names(machine: &Machine<'_>, errors: &mut Errors) {
    let mut methods = BTreeSet::new();
    for state in &machine.states {
        let method = &state.method_name;
        if !methods.insert(method) {
            errors.spanned(
                state.ident,
                format_args!(
                    "state `{}` would get transition method `{method}`, like another state; \
                     rename one of them",
                    state.ident
                ),
            );
        }
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
