//! The generation pipeline's top: it runs each generator over a validated lifecycle and joins
//! their output. The layers below it only ever point down:
//!
//! ```text
//! expand ─┬─ markers      mod project_status: state markers, edge impls
//!         ├─ transitions  trait ProjectStatusTransitions
//!         ├─ bulk         Lifecycle, Resume, Tracked's transitions (text)
//!         └─ diagram      the enum's documented state diagram
//!               │
//!               ├─ view   what generators read from the model
//!               └─ emit   the two ways output reaches rustc
//!                     │
//!                     └─ model (parsed, validated by `valid`)
//! ```
//!
//! Runtime items are named only through the facade's hidden module ([`crate::private::path`]), std
//! items by absolute path.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::model::Machine;
use super::{attr, bulk, diagram, markers, transitions, view};

pub(crate) fn expand(machine: &Machine<'_>) -> syn::Result<TokenStream> {
    let mut item = attr::strip(machine.original);
    item.attrs.push(diagram::expand_doc(machine));
    let table = view::table(machine);
    let module = markers::expand(machine);
    let transitions = transitions::expand_transitions(machine, &table);
    let bulk = bulk::expand(machine)?;
    // Each piece is joined once: every splice is a round trip to rustc's token store.
    let block: TokenStream = [bulk.impls, transitions.finished].into_iter().collect();
    let block = quote!(const _: () = { #block };);
    Ok([
        item.into_token_stream(),
        module,
        transitions.declaration,
        bulk.resumed,
        block,
    ]
    .into_iter()
    .collect())
}
