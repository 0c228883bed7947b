//! The transition methods of a lifecycle, as a trait of `Tracked`, and the same methods on a
//! finished machine (`Terminal`), where every call fails with a message that names the contract.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use super::emit::{lex_or_error, put};
use super::model::Machine;
use super::view::{StateData, either, entered_states, typed_state};
use crate::private;

/// The transitions of a lifecycle: the trait, declared beside the enum, and the finished
/// machine's impl of it, which lives in the generated block that starts with
/// [`private::ALIAS`] (the impl for `Tracked` is written by `bulk`).
pub(super) struct Transitions {
    pub(super) declaration: TokenStream,
    pub(super) finished: TokenStream,
}

/// `trait ProjectStatusTransitions`: one named method per state that some edge enters.
///
/// Lexed from text (see [`super::emit`]) but for each method's bound, which is built at the target
/// state's span, so that "required by this bound" points at its variant.
/// `table` is the lifecycle's [`table`](super::view::table).
pub(super) fn expand_transitions(machine: &Machine<'_>, table: &str) -> Transitions {
    let (name, module, name_text) = (machine.ident, &machine.module, &machine.name);
    let trait_ident = format_ident!("{}Transitions", name);
    let doc = format!(
        " The transitions of lifecycle [`{name_text}`], as methods of \
         `Tracked<{name_text}, S, T, R>`.\n\n\
         Each method exists only in the states whose `#[to(..)]` names its target, consumes the \
         machine and returns it in the new state (a `Terminal` proof for a terminal one). \
         Import this trait where transitions are taken.\n\n\
         Declared transitions: {}.",
        table
    );
    let module_text = module.to_string();
    // Text runs between the spanned tokens: the method's name (rustc's "method defined here"
    // points at it) and its bound ("required by this bound"). The pieces are joined once at
    // the end: every join is a round trip to rustc's token store.
    let mut methods: Vec<TokenStream> = Vec::new();
    let mut text = String::new();
    for (index, state) in entered_states(machine) {
        let (ident, target) = (state.ident, &state.name);
        let mut target_module = module.clone();
        target_module.set_span(ident.span());
        // At the target's variant: "required by this bound" points at the state being entered.
        let runtime = private::at(ident.span());
        let bound = quote_spanned!(ident.span()=> __S: #runtime::Edge<#target_module::#ident>);
        // A state without data (most) takes no parameter and `()`, with no tokens to render.
        let (params, value) = if state.carries_data() {
            let data = StateData::new(state);
            let params: Vec<String> = data.params().iter().map(ToString::to_string).collect();
            (params.join(", "), data.value().to_string())
        } else {
            (String::new(), "()".to_owned())
        };
        let sources: Vec<&str> = machine
            .predecessors(index)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let output = typed_state("::fixpoint::__private", name_text, &module_text, state);
        let doc = format!(
            " Goes to `{target}`{}. Declared from {}.",
            if state.is_terminal() {
                ", finishing the lifecycle"
            } else {
                ""
            },
            either(&sources)
        );
        put(
            &mut text,
            format_args!(
                "#[doc = {doc:?}] \
                 #[must_use = \"a transition consumes the machine and returns it in its new state\"] \
                 fn"
            ),
        );
        methods.push(lex_or_error(&std::mem::take(&mut text), name));
        methods.push(TokenTree::Ident(state.method()).into());
        put(
            &mut text,
            format_args!("(self, {params}) -> {output} where"),
        );
        methods.push(lex_or_error(&std::mem::take(&mut text), name));
        methods.push(bound);
        // The only body: `Tracked` and `Terminal` implement the trait with empty impls, and
        // `Transit` takes the step (on a `Terminal` never, as the bound above fails there).
        let step = if state.is_terminal() {
            "__finish"
        } else {
            "__transition"
        };
        put(
            &mut text,
            format_args!(
                "{{ ::fixpoint::__private::Transit::{step}::<{module_text}::{target}>(self, {value}) }}"
            ),
        );
    }
    methods.push(lex_or_error(&text, name));
    let header = format!(
        "#[doc = {doc:?}] {vis} trait {trait_ident}<__S, __T, __R>: \
         ::fixpoint::__private::Transit<{name_text}, __S, __T, __R> \
         where __R: ::fixpoint::__private::RecorderSlot<{name_text}>,",
        vis = machine.vis.to_token_stream(),
    );
    let mut declaration = lex_or_error(&header, name);
    let methods: TokenStream = methods.into_iter().collect();
    declaration.extend([TokenTree::Group(Group::new(Delimiter::Brace, methods))]);
    let local = private::local();
    let finished_state = finished_state(machine);
    // A transition called on a finished machine resolves here (to the trait's provided body),
    // and fails on its bound: the runtime's `Edge` impl for a `Finished` state asks
    // `Terminal<Job, ()>: Unfinished<Job>`, whose message is "a finished machine has no
    // transitions".
    let finished = quote! {
        impl<__T> #trait_ident<#finished_state, __T, #local::NoRecorder>
            for #local::Terminal<#name, __T>
        {
        }
    };
    Transitions {
        declaration,
        finished,
    }
}

/// `Finished<Job, Terminal<Job, ()>>`: the type-level state of a `Terminal`, whose every
/// transition bound asks `Terminal<Job, ()>: Unfinished<Job>`, which never holds.
fn finished_state(machine: &Machine<'_>) -> TokenStream {
    let name = machine.ident;
    let local = private::local();
    quote!(#local::Finished<#name, #local::Terminal<#name, ()>>)
}
