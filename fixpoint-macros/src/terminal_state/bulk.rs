//! The bulk of a lifecycle's impls, written as Rust source text and lexed by rustc in one call
//! (see [`super::emit`]). The impls here (`Lifecycle`, `Resume`, the state markers, the
//! transitions of `Tracked`) carry no span of the user's: no diagnostic ever points into them,
//! so they lose nothing by being text. Every token a diagnostic points at (the enum's own, the
//! impls of each marker's edges, each transition's name and bound) is made at the user's span
//! by `markers` and `transitions`.

use proc_macro2::TokenStream;
use quote::ToTokens;

use super::emit::{lex_item, put};
use super::model::{Machine, StateDecl};
use super::view::{StateData, mermaid, typed_state};
use crate::{names, private};

/// The lifecycle's text-built items: the resumed enum (declared beside the enum, with
/// `resume` only) and the impls of its const block, which start with [`private::ALIAS`] (so the runtime is `__fixpoint`),
/// each as tokens lexed by rustc. The states' data are rendered as text once for both.
pub(super) struct Bulk {
    pub(super) resumed: TokenStream,
    pub(super) impls: TokenStream,
}

pub(super) fn expand(machine: &Machine<'_>) -> syn::Result<Bulk> {
    let text = Text::new(machine);
    let mut out = String::with_capacity(2048 + 256 * machine.states.len());
    let resumed = if machine.resume {
        text.resumed(&mut out);
        let resumed = lex_item(&out, machine.ident)?;
        out.clear();
        resumed
    } else {
        TokenStream::new()
    };
    out.push_str(private::ALIAS);
    text.lifecycle(&mut out);
    if machine.resume {
        text.resume(&mut out);
    }
    for (index, state) in machine.states.iter().enumerate() {
        text.marker(&mut out, index, state);
    }
    text.tracked_transitions(&mut out);
    let impls = lex_item(&out, machine.ident)?;
    Ok(Bulk { resumed, impls })
}

/// The names every impl repeats, as text.
struct Text<'m, 'a> {
    machine: &'m Machine<'a>,
    name: String,
    module: String,
    resumed: String,
    /// Per state: its data's pieces.
    data: Vec<DataText>,
}

/// A state's data, as text: `()` and empty patterns for a state without fields.
struct DataText {
    ty: String,
    pattern: String,
    wildcard: String,
    value: String,
}

impl<'m, 'a> Text<'m, 'a> {
    fn new(machine: &'m Machine<'a>) -> Self {
        let name = machine.name.clone();
        Text {
            machine,
            resumed: format!("{name}Resumed"),
            module: machine.module.to_string(),
            data: machine.states.iter().map(DataText::new).collect(),
            name,
        }
    }

    /// `impl Lifecycle`: the declared machine as data, and the runtime view over it.
    fn lifecycle(&self, out: &mut String) {
        let Text {
            machine,
            name,
            module,
            data,
            ..
        } = self;
        let initial = machine.initial().unwrap_or_default();
        let abandoned = machine.abandoned().unwrap_or_default();
        put(
            out,
            format_args!(
                "#[automatically_derived] impl __fixpoint::Lifecycle for {name} {{ \
                 const SPEC: &'static __fixpoint::Spec = &__fixpoint::Spec {{ \
                 name: {name:?}, snake_name: {snake:?}, module: {module:?}, states: &[",
                snake = names::snake_case(name),
            ),
        );
        for state in &machine.states {
            put(
                out,
                format_args!(
                    "__fixpoint::StateSpec::new({:?}, {}, {}, &[",
                    state.name,
                    state.is_terminal(),
                    state.carries_data()
                ),
            );
            for target in machine.successors(state) {
                put(out, format_args!("{target},"));
            }
            out.push_str("]),");
        }
        put(
            out,
            format_args!(
                "], initial: {initial}u16, abandoned: {abandoned}u16, mermaid: {mermaid:?}, }}; \
                 type Initial = {module}::{initial_state}; \
                 #[inline] fn state(&self) -> __fixpoint::State<Self> {{ \
                 __fixpoint::state(match self {{",
                mermaid = mermaid(machine),
                initial_state = machine.states[initial].name,
            ),
        );
        for (index, (state, data)) in machine.states.iter().zip(data).enumerate() {
            put(
                out,
                format_args!("Self::{}{} => {index},", state.name, data.wildcard),
            );
        }
        out.push_str("}) } ");
        out.push_str(
            "fn __unit(__state: __fixpoint::State<Self>) -> __fixpoint::Option<Self> { \
             __fixpoint::Some(match __state.index() {",
        );
        for (index, state) in machine.states.iter().enumerate() {
            if !state.carries_data() {
                put(out, format_args!("{index} => Self::{},", state.name));
            }
        }
        // The abandoned state is a unit one, so some arm is a value and `Some` is reached.
        out.push_str("_ => return __fixpoint::None, }) } }");
    }

    /// `impl Resume` (`#[terminal_state(resume)]` only): a status read back from storage
    /// rebuilt as its typed machine.
    fn resume(&self, out: &mut String) {
        let Text {
            machine,
            name,
            resumed,
            data,
            ..
        } = self;
        put(
            out,
            format_args!(
                "#[automatically_derived] impl __fixpoint::Resume for {name} {{ \
                 type Resumed<__T, __R: __fixpoint::RecorderSlot<Self>> = {resumed}<__T, __R>; \
                 fn __resume<__T, __R: __fixpoint::RecorderSlot<Self>>(self, __value: __T, \
                 __recorder: __R) -> {resumed}<__T, __R> {{ match self {{"
            ),
        );
        for (state, data) in machine.states.iter().zip(data) {
            let ident = &state.name;
            if state.is_terminal() {
                put(
                    out,
                    format_args!(
                        "__status @ Self::{ident}{} => \
                         {resumed}::{ident}(__fixpoint::terminal(__status, __value)),",
                        data.wildcard
                    ),
                );
            } else {
                put(
                    out,
                    format_args!(
                        "Self::{ident}{} => \
                         {resumed}::{ident}(__fixpoint::resume(__value, {}, __recorder)),",
                        data.pattern, data.value
                    ),
                );
            }
        }
        out.push_str("} } }");
    }

    /// The resumed enum, declared beside the lifecycle (so it names the runtime in full).
    fn resumed(&self, out: &mut String) {
        let Text {
            machine,
            name,
            module,
            resumed,
            ..
        } = self;
        let vis = machine.vis.to_token_stream().to_string();
        let typed =
            |state: &StateDecl<'_>| typed_state("::fixpoint::__private", name, module, state);
        let doc = format!(
            " A `{name}` status read back from storage, rebuilt as its typed machine by \
             `Resume::resume`: a `Tracked` for a non-terminal state, a `Terminal` proof for \
             a terminal one."
        );
        put(
            out,
            format_args!(
                "#[doc = {doc:?}] {vis} enum {resumed}<__T, __R = ::fixpoint::__private::NoRecorder> \
                 where __R: ::fixpoint::__private::RecorderSlot<{name}>, {{"
            ),
        );
        for state in &machine.states {
            let kind = if state.is_terminal() {
                "terminal"
            } else {
                "non-terminal"
            };
            let doc = format!(" Resumed in {kind} state `{}`.", state.name);
            put(
                out,
                format_args!("#[doc = {doc:?}] {}({}),", state.name, typed(state)),
            );
        }
        // `Debug` exactly when every variant's machine is: a state without data is as soon as
        // `__T` is, so only the data-carrying states and `Terminal` (once) need a bound.
        put(
            out,
            format_args!(
                "}} #[automatically_derived] impl<__T, __R> ::core::fmt::Debug for {resumed}<__T, __R> \
                 where __R: ::fixpoint::__private::RecorderSlot<{name}>, __T: ::core::fmt::Debug,"
            ),
        );
        for state in machine
            .states
            .iter()
            .filter(|s| !s.is_terminal() && s.carries_data())
        {
            put(out, format_args!("{}: ::core::fmt::Debug,", typed(state)));
        }
        if let Some(terminal) = machine.states.iter().find(|s| s.is_terminal()) {
            put(
                out,
                format_args!("{}: ::core::fmt::Debug,", typed(terminal)),
            );
        }
        // One chain of calls for every variant: each variant only picks its name and machine.
        out.push_str(
            "{ fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result { \
             let (name, machine): (&str, &dyn ::core::fmt::Debug) = match self {",
        );
        for state in &machine.states {
            put(
                out,
                format_args!(
                    "Self::{ident}(machine) => ({ident:?}, machine),",
                    ident = state.name
                ),
            );
        }
        out.push_str("}; f.debug_tuple(name).field(machine).finish() } }");
    }

    /// `impl Declared` for one marker, from which the runtime derives `StateMarker` and
    /// `Active` or `Final`; `__into_status` only for a state with data (the others take the
    /// provided one).
    fn marker(&self, out: &mut String, index: usize, state: &StateDecl<'_>) {
        let Text { name, module, .. } = self;
        let data = &self.data[index];
        let ident = &state.name;
        let kind = if state.is_terminal() {
            "IsFinal"
        } else {
            "IsActive"
        };
        put(
            out,
            format_args!(
                "impl __fixpoint::Declared for {module}::{ident} {{ \
                 type Of = __fixpoint::Marker<{name}, {ty}, __fixpoint::{kind}, {index}>;",
                ty = data.ty,
                index = state_index(index),
            ),
        );
        if state.carries_data() {
            put(
                out,
                format_args!(
                    "#[inline] fn __into_status({}: {}) -> {name} {{ {name}::{ident}{} }}",
                    data.value, data.ty, data.pattern
                ),
            );
        }
        out.push('}');
    }

    /// `impl ProjectStatusTransitions for Tracked`: empty, every method is provided.
    fn tracked_transitions(&self, out: &mut String) {
        let name = &self.name;
        put(
            out,
            format_args!(
                "impl<__S, __T, __R> {name}Transitions<__S, __T, __R> \
                 for __fixpoint::Tracked<{name}, __S, __T, __R> where \
                 __S: __fixpoint::Active + __fixpoint::StateMarker<Lifecycle = {name}>, \
                 __R: __fixpoint::RecorderSlot<{name}>, {{}}"
            ),
        );
    }
}

/// The runtime's type for declaration index `index`: `__fixpoint::I3` (a plain type, where a
/// literal const argument would be one more body for rustc to check), `__fixpoint::Ix<70>`
/// past the 64 it declares.
fn state_index(index: usize) -> String {
    if index < 64 {
        format!("__fixpoint::I{index}")
    } else {
        format!("__fixpoint::Ix<{index}>")
    }
}

impl DataText {
    fn new(state: &StateDecl<'_>) -> Self {
        if !state.carries_data() {
            return DataText {
                ty: "()".to_owned(),
                pattern: String::new(),
                wildcard: String::new(),
                value: "()".to_owned(),
            };
        }
        let data = StateData::new(state);
        DataText {
            ty: data.ty().to_string(),
            pattern: data.pattern().to_string(),
            wildcard: data.wildcard().to_string(),
            value: data.value().to_string(),
        }
    }
}
