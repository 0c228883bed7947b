//! The declared machine as constant data, written by `#[terminal_state]`.

/// The whole declared machine: what `#[terminal_state]` read from the enum.
#[derive(Debug)]
pub struct Spec {
    /// The enum's name.
    pub name: &'static str,
    /// The enum's name in snake case (`HTTPJob` -> `http_job`), computed once by the macro, so
    /// that the generated module and a store's table name cannot disagree.
    pub snake_name: &'static str,
    /// The name of the generated module of state markers (`module = ..`, or `snake_name`), a
    /// sibling of the enum.
    pub module: &'static str,
    /// Every state, in declaration order; a [`State`](super::State) is an index into it.
    pub states: &'static [StateSpec],
    /// Index of the `#[initial]` state.
    pub initial: u16,
    /// Index of the `#[abandoned]` state.
    pub abandoned: u16,
    /// The machine as a Mermaid `stateDiagram-v2`.
    pub mermaid: &'static str,
}

/// One declared state.
#[derive(Debug)]
pub struct StateSpec {
    /// The variant's name.
    pub name: &'static str,
    /// Whether the variant is `#[terminal]`.
    pub terminal: bool,
    /// Whether entering the state needs data (the variant has fields).
    pub carries_data: bool,
    /// Indices of the states its `#[to(..)]` names, in declaration order of the targets.
    pub to: &'static [u16],
}

impl StateSpec {
    /// The spec of state `name`: how `#[terminal_state]` writes each one (a call is fewer
    /// tokens for rustc to read, at every build, than a struct literal).
    #[must_use]
    pub const fn new(
        name: &'static str,
        terminal: bool,
        carries_data: bool,
        to: &'static [u16],
    ) -> Self {
        StateSpec {
            name,
            terminal,
            carries_data,
            to,
        }
    }
}
