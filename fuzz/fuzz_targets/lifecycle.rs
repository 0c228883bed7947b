//! Random lifecycles (states, edges, initial, terminal, abandoned flags, data) through
//! `#[terminal_state]`: the expansion refuses a lifecycle exactly when a reference check of its
//! graph does, and never panics.
#![no_main]

use arbitrary::Arbitrary;
use fixpoint_fuzz::{Attribute, check, has_compile_error};
use libfuzzer_sys::fuzz_target;
use proc_macro2::TokenStream;

/// Distinct state names whose generated method names never collide.
const NAMES: [&str; 8] = [
    "Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel",
];

#[derive(Arbitrary, Debug)]
struct State {
    initial: bool,
    terminal: bool,
    abandoned: bool,
    /// A field: the state needs data to be entered.
    data: bool,
    /// Targets, as indices into the states (taken modulo their number; duplicates kept).
    to: Vec<u8>,
    /// Writes `#[to(..)]` even when `to` is empty.
    empty_to: bool,
}

#[derive(Arbitrary, Debug)]
struct Lifecycle {
    states: Vec<State>,
}

/// The reference check: the rules `#[terminal_state]` promises, on the graph alone.
fn valid(states: &[State]) -> bool {
    let n = states.len();
    let count = |pick: fn(&State) -> bool| states.iter().filter(|s| pick(s)).count();
    let targets = |s: &State| -> Vec<usize> { s.to.iter().map(|t| usize::from(*t) % n).collect() };
    if n == 0 || count(|s| s.initial) != 1 || count(|s| s.terminal) == 0 {
        return false;
    }
    if states.iter().any(|s| s.initial && s.terminal) {
        return false;
    }
    if count(|s| s.abandoned) != 1
        || states
            .iter()
            .any(|s| s.abandoned && (!s.terminal || s.data))
    {
        return false;
    }
    // No edge leaves a terminal state (an empty `#[to()]` is still a `#[to]`).
    if states
        .iter()
        .any(|s| s.terminal && (!s.to.is_empty() || s.empty_to))
    {
        return false;
    }
    // Each target once.
    for s in states {
        let mut seen = targets(s);
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return false;
        }
    }
    // Every state reaches a terminal one.
    let mut finishing: Vec<bool> = states.iter().map(|s| s.terminal).collect();
    loop {
        let mut grew = false;
        for (i, s) in states.iter().enumerate() {
            if !finishing[i] && targets(s).iter().any(|&t| finishing[t]) {
                finishing[i] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    finishing.iter().all(|&f| f)
}

/// The enum a user would write for `states`.
fn source(states: &[State]) -> String {
    let n = states.len();
    let mut text = String::from("pub enum Fuzzed {\n");
    for (i, s) in states.iter().enumerate() {
        for (flag, attr) in [
            (s.initial, "#[initial]"),
            (s.terminal, "#[terminal]"),
            (s.abandoned, "#[abandoned]"),
        ] {
            if flag {
                text.push_str(attr);
            }
        }
        if !s.to.is_empty() || s.empty_to {
            let to: Vec<&str> = s.to.iter().map(|t| NAMES[usize::from(*t) % n]).collect();
            text.push_str(&format!("#[to({})]", to.join(", ")));
        }
        text.push_str(NAMES[i]);
        if s.data {
            text.push_str("(u32)");
        }
        text.push_str(",\n");
    }
    text.push('}');
    text
}

fuzz_target!(|lifecycle: Lifecycle| {
    let states = &lifecycle.states[..lifecycle.states.len().min(NAMES.len())];
    let text = source(states);
    let input: TokenStream = text.parse().expect("the generated enum lexes");
    let output = check(Attribute::TerminalState, TokenStream::new(), input);
    let refused = has_compile_error(&output);
    assert_eq!(
        refused,
        !valid(states),
        "#[terminal_state] {} a lifecycle the reference check calls {}:\n{text}\n{output}",
        if refused { "refused" } else { "accepted" },
        if valid(states) { "valid" } else { "invalid" },
    );
});
