//! Snapshot assertions over a lifecycle's declared transition table.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::Lifecycle;

/// Asserts that lifecycle `L` declares exactly the reviewed table `expected`: every state, in any
/// order, with the states its `#[to(..)]` names (a terminal state lists none).
///
/// # Panics
///
/// When the declared table differs, with a diff that names each edge the enum added
/// (`+ Queued -> Done`, widened) or dropped (`- Running -> Done`, narrowed), each state added or
/// removed, and the declared table ready to paste once the change is reviewed. Also when
/// `expected` lists a state twice.
///
/// ```
/// use fixpoint::terminal_state;
/// use fixpoint::testing::assert_transitions;
///
/// #[terminal_state]
/// enum Job {
///     #[initial] #[to(Running, Failed)] Queued,
///     #[to(Done, Failed)] Running,
///     #[terminal] Done,
///     #[terminal] #[abandoned] Failed,
/// }
///
/// assert_transitions::<Job>(&[
///     ("Queued", &["Running", "Failed"]),
///     ("Running", &["Done", "Failed"]),
///     ("Done", &[]),
///     ("Failed", &[]),
/// ]);
///
/// // A reviewed table without `Running -> Failed`: the enum widened it.
/// let widened = std::panic::catch_unwind(|| {
///     assert_transitions::<Job>(&[
///         ("Queued", &["Running", "Failed"]),
///         ("Running", &["Done"]),
///         ("Done", &[]),
///         ("Failed", &[]),
///     ])
/// });
/// assert!(widened.is_err());
/// ```
#[track_caller]
pub fn assert_transitions<L: Lifecycle>(expected: &[(&str, &[&str])]) {
    let reviewed: Vec<(&str, Vec<&str>)> = expected
        .iter()
        .map(|&(state, to)| (state, to.to_vec()))
        .collect();
    if let Some(diff) = diff::<L>(&reviewed) {
        panic!("{diff}");
    }
}

/// Like [`assert_transitions`], with the reviewed table as text: one state per line,
/// `State -> Target, Target`, a terminal state alone on its line (or followed by `->`). Blank
/// lines and text after `#` are ignored.
///
/// # Panics
///
/// When the declared table differs (the same diff as [`assert_transitions`]), or when a line does
/// not parse.
///
/// ```
/// use fixpoint::terminal_state;
/// use fixpoint::testing::assert_transitions_text;
///
/// #[terminal_state]
/// enum Door {
///     #[initial] #[to(Open, Broken)] Closed,
///     #[to(Closed, Broken)] Open,
///     #[terminal] #[abandoned] Broken,
/// }
///
/// assert_transitions_text::<Door>(
///     "
///     Closed -> Open, Broken
///     Open   -> Closed, Broken
///     Broken # terminal
///     ",
/// );
/// ```
#[track_caller]
pub fn assert_transitions_text<L: Lifecycle>(expected: &str) {
    let reviewed = parse(expected).unwrap_or_else(|error| panic!("{error}"));
    if let Some(diff) = diff::<L>(&reviewed) {
        panic!("{diff}");
    }
}

/// The declared table of `L` in the text form [`assert_transitions_text`] reads, one state per
/// line in declaration order: what to paste into a snapshot after reviewing it.
///
/// ```
/// use fixpoint::terminal_state;
/// use fixpoint::testing::transitions_text;
///
/// #[terminal_state]
/// enum Door {
///     #[initial] #[to(Open, Broken)] Closed,
///     #[to(Closed, Broken)] Open,
///     #[terminal] #[abandoned] Broken,
/// }
///
/// assert_eq!(transitions_text::<Door>(), "Closed -> Open, Broken\nOpen -> Closed, Broken\nBroken\n");
/// ```
#[must_use]
pub fn transitions_text<L: Lifecycle>() -> String {
    let mut out = String::new();
    for state in L::states() {
        let targets: Vec<&str> = state.successors().map(|s| s.name()).collect();
        if targets.is_empty() {
            let _ = writeln!(out, "{}", state.name());
        } else {
            let _ = writeln!(out, "{} -> {}", state.name(), targets.join(", "));
        }
    }
    out
}

/// The reviewed table parsed from its text form, or the message naming the bad line.
fn parse(text: &str) -> Result<Vec<(&str, Vec<&str>)>, String> {
    let mut table = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (state, targets) = line.split_once("->").unwrap_or((line, ""));
        let state = state.trim();
        let targets: Vec<&str> = targets
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        let is_name = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !is_name(state) || !targets.iter().all(|t| is_name(t)) {
            return Err(format!(
                "line {} of the reviewed table does not parse: `{line}`; write \
                 `State -> Target, Target`, or the state alone when it has no transitions",
                number + 1
            ));
        }
        table.push((state, targets));
    }
    Ok(table)
}

/// The readable diff between the declared table of `L` and `reviewed`, or `None` when they agree.
fn diff<L: Lifecycle>(reviewed: &[(&str, Vec<&str>)]) -> Option<String> {
    let mut lines = Vec::new();
    let mut listed = BTreeSet::new();
    for (state, _) in reviewed {
        if !listed.insert(*state) {
            lines.push(format!(
                "  state `{state}` is listed twice in the reviewed table; list it once"
            ));
        }
    }
    let declared: Vec<&str> = L::states().map(|s| s.name()).collect();
    for state in &declared {
        if !listed.contains(state) {
            lines.push(format!(
                "+ state {state}    (added: `{state}` was not in the reviewed table)"
            ));
        }
    }
    for (state, _) in reviewed {
        if !declared.contains(state) {
            lines.push(format!(
                "- state {state}    (removed: `{state}` is in the reviewed table but not declared)"
            ));
        }
    }
    let reviewed_edges: BTreeSet<(&str, &str)> = reviewed
        .iter()
        .flat_map(|(from, to)| to.iter().map(move |to| (*from, *to)))
        .collect();
    let declared_edges: Vec<(&str, &str)> = L::transitions()
        .map(|(from, to)| (from.name(), to.name()))
        .collect();
    for &(from, to) in &declared_edges {
        if !reviewed_edges.contains(&(from, to)) {
            lines.push(format!(
                "+ {from} -> {to}    (widened: `{from} -> {to}` was not in the reviewed table)"
            ));
        }
    }
    for &(from, to) in &reviewed_edges {
        if !declared_edges.contains(&(from, to)) {
            lines.push(format!(
                "- {from} -> {to}    (narrowed: `{from} -> {to}` is in the reviewed table but \
                 no longer declared)"
            ));
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "lifecycle `{name}` declares a transition table that differs from the reviewed one:\n\
         {diff}\n\nif the change is intended, review it and paste the declared table:\n{text}",
        name = L::name(),
        diff = lines.join("\n"),
        text = transitions_text::<L>()
    ))
}
