//! The transition methods of a lifecycle, as a trait of `Tracked`, and the same methods on a
//! finished machine (`Terminal`), where every call fails with a message that names the contract.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::expand::{StateData, either, entered_states, table};
use super::model::Machine;
use crate::private;

/// The transitions of a lifecycle: the trait, declared beside the enum, and its impls, which
/// live in the generated block that starts with [`private::alias`].
pub(super) struct Transitions {
    pub(super) declaration: TokenStream,
    pub(super) impls: TokenStream,
}

/// `trait ProjectStatusTransitions`: one named method per state that some edge enters.
pub(super) fn expand_transitions(machine: &Machine<'_>) -> Transitions {
    let (vis, name, module) = (machine.vis, machine.ident, &machine.module);
    let trait_ident = format_ident!("{}Transitions", name);
    let doc = format!(
        " The transitions of lifecycle [`{name}`], as methods of `Tracked<{name}, S, T, R>`.\n\n\
         Each method exists only in the states whose `#[to(..)]` names its target, consumes the \
         machine and returns it in the new state (a `Terminal` proof for a terminal one). \
         Import this trait where transitions are taken.\n\n\
         Declared transitions: {}.",
        table(machine)
    );
    let private = private::path();
    let local = private::local();
    let mut signatures = Vec::new();
    let mut bodies = Vec::new();
    for (index, state) in entered_states(machine) {
        let (ident, method, entry) = (state.ident, state.method(), state.entry_trait());
        // Spanned at the target state, so "required by this bound" points at its variant.
        let mut entry_module = module.clone();
        entry_module.set_span(ident.span());
        let bound = quote_spanned!(ident.span()=> __S: #entry_module::#entry);
        let data = StateData::new(state);
        let params = data.params();
        let value = data.value();
        let sources: Vec<&Ident> = machine
            .predecessors(index)
            .iter()
            .map(|s| s.ident)
            .collect();
        let output = |p: private::Private| {
            if state.is_terminal() {
                quote!(#p::Terminal<#name, __T>)
            } else {
                quote!(#p::Tracked<#name, #module::#ident, __T, __R>)
            }
        };
        let call = if state.is_terminal() {
            quote!(#local::Tracked::finish::<#module::#ident>(self, #value))
        } else {
            quote!(#local::Tracked::transition::<#module::#ident>(self, #value))
        };
        let (output, local_output) = (output(private), output(local));
        let doc = format!(
            " Goes to `{ident}`{}. Declared from {}.",
            if state.is_terminal() {
                ", finishing the lifecycle"
            } else {
                ""
            },
            either(&sources)
        );
        // The default body is the finished machine's (`Terminal` overrides nothing): never
        // run, because its bound never holds there, and every `Tracked` overrides it.
        signatures.push(quote! {
            #[doc = #doc]
            #[must_use = "a transition consumes the machine and returns it in its new state"]
            fn #method(self, #(#params),*) -> #output where #bound {
                #private::no_transition_after_terminal((self, #value))
            }
        });
        // No `#[inline]`: a generic method is instantiated, and inlinable, where it is called.
        bodies.push(quote! {
            fn #method(self, #(#params),*) -> #local_output where #bound {
                #call
            }
        });
    }
    let finished_state = finished_state(machine);
    let edges = expand_finished_edges(machine);
    let declaration = quote! {
        #[doc = #doc]
        #vis trait #trait_ident<__S, __T, __R>: ::core::marker::Sized
        where
            __R: #private::RecorderSlot<#name>,
        {
            #(#signatures)*
        }
    };
    let impls = quote! {
        #[automatically_derived]
        impl<__S, __T, __R> #trait_ident<__S, __T, __R> for #local::Tracked<#name, __S, __T, __R>
        where
            __S: #local::Active + #local::StateMarker<Lifecycle = #name>,
            __R: #local::RecorderSlot<#name>,
        {
            #(#bodies)*
        }

        // A transition called on a finished machine resolves here (to the trait's default
        // body), and fails on its bound with "a finished machine has no transitions".
        impl<__T> #trait_ident<#finished_state, __T, #local::NoRecorder>
            for #local::Terminal<#name, __T>
        {
        }

        #edges
    };
    Transitions { declaration, impls }
}

/// `Finished<Job, Terminal<Job, ()>>`: the type-level state of a `Terminal`, whose every
/// transition bound asks `Terminal<Job, ()>: Unfinished<Job>`, which never holds.
fn finished_state(machine: &Machine<'_>) -> TokenStream {
    let name = machine.ident;
    let local = private::local();
    quote!(#local::Finished<#name, #local::Terminal<#name, ()>>)
}

/// The entries of a finished machine, one per entered state, each held back by
/// `Unfinished<Job>` (the finished machine's `Edge`s are one blanket impl in the runtime).
fn expand_finished_edges(machine: &Machine<'_>) -> TokenStream {
    let edges = entered_states(machine).map(|(_, state)| {
        let (ident, entry) = (state.ident, state.entry_trait());
        // Every token at the target state, so that "required for .. to implement `ToRunning`"
        // and its "unsatisfied trait bound" point at it, not at the whole enum.
        let (mut name, mut module) = (machine.ident.clone(), machine.module.clone());
        name.set_span(ident.span());
        module.set_span(ident.span());
        let private = private::local_at(ident.span());
        quote_spanned! {ident.span()=>
            impl<__X: 'static> #module::#entry for #private::Finished<#name, __X>
            where
                __X: #private::Unfinished<#name>,
            {
            }
        }
    });
    quote!(#(#edges)*)
}
