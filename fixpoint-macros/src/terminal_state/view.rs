//! What generation reads from a validated [`Machine`]: the states' data as parameters and
//! patterns, the generated items' visibility, the table and diagram of edges. Nothing here
//! writes output; the generators (`markers`, `transitions`, `bulk`) share it.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::{Fields, Type, Visibility};

use super::model::{Machine, StateDecl};
use crate::names;

/// How a state's fields become the data of its marker, the parameters of the method that
/// enters it, and patterns over its variant.
pub(super) struct StateData<'a> {
    fields: &'a Fields,
    /// Parameter and binding names, one per field.
    bindings: Vec<Ident>,
}

impl<'a> StateData<'a> {
    pub(super) fn new(state: &StateDecl<'a>) -> Self {
        let fields = state.fields();
        let mut bindings: Vec<Ident> = Vec::new();
        for (i, field) in fields.iter().enumerate() {
            let base = match &field.ident {
                Some(ident) => ident.to_string(),
                None => type_name(&field.ty).unwrap_or_else(|| "data".to_owned()),
            };
            let mut candidate = base.clone();
            if bindings.iter().any(|b| *b == candidate)
                || (field.ident.is_none() && fields.len() > 1 && base == "data")
            {
                candidate = format!("{base}{i}");
            }
            bindings.push(match &field.ident {
                Some(ident) => ident.clone(),
                None => names::ident(&candidate, Span::call_site()),
            });
        }
        StateData { fields, bindings }
    }

    /// `()`, the field's type, or a tuple of the field types.
    pub(super) fn ty(&self) -> TokenStream {
        let types: Vec<&Type> = self.fields.iter().map(|f| &f.ty).collect();
        match types.as_slice() {
            [] => quote!(()),
            [one] => quote!(#one),
            many => quote!((#(#many),*)),
        }
    }

    /// The method parameters: `follow_up: FollowUpId`.
    pub(super) fn params(&self) -> Vec<TokenStream> {
        self.fields
            .iter()
            .zip(&self.bindings)
            .map(|(field, binding)| {
                let ty = &field.ty;
                quote!(#binding: #ty)
            })
            .collect()
    }

    /// The data value built from (or destructured into) the bindings.
    pub(super) fn value(&self) -> TokenStream {
        let bindings = &self.bindings;
        match bindings.as_slice() {
            [] => quote!(()),
            [one] => quote!(#one),
            many => quote!((#(#many),*)),
        }
    }

    /// The variant's fields bound to the bindings, as a pattern or a constructor:
    /// `(follow_up_id)` or `{ sent, total }`.
    pub(super) fn pattern(&self) -> TokenStream {
        let bindings = &self.bindings;
        match self.fields {
            Fields::Unit => quote!(),
            Fields::Unnamed(_) => quote!((#(#bindings),*)),
            // Named fields are bound to their own names: `{ sent, total }`.
            Fields::Named(_) => quote!({ #(#bindings),* }),
        }
    }

    /// A pattern matching the variant whatever its fields hold.
    pub(super) fn wildcard(&self) -> TokenStream {
        match self.fields {
            Fields::Unit => quote!(),
            Fields::Unnamed(_) => quote!((..)),
            Fields::Named(_) => quote!({ .. }),
        }
    }
}

/// `follow_up_id` for a field of type `FollowUpId` (or `crate::ids::FollowUpId`).
fn type_name(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?.ident.to_string();
    let name = names::snake_case(&last);
    let usable = last.starts_with(char::is_uppercase)
        && !matches!(name.as_str(), "self" | "super" | "crate");
    usable.then_some(name)
}

/// The enum's visibility, as written inside the generated module: generated items are exactly
/// as visible as the enum (a private enum's markers are `pub(super)`, so no impl leaks it).
pub(super) fn inner_visibility(vis: &Visibility) -> TokenStream {
    match vis {
        Visibility::Public(_) => quote!(pub),
        Visibility::Inherited => quote!(pub(super)),
        Visibility::Restricted(restricted) => {
            let path = &restricted.path;
            let first = path.segments.first().map(|s| s.ident.to_string());
            match first.as_deref() {
                Some("crate") => quote!(#vis),
                Some("self") if path.segments.len() == 1 => quote!(pub(super)),
                _ => {
                    let path = path.segments.iter().filter(|s| s.ident != "self");
                    quote!(pub(in super #(::#path)*))
                }
            }
        }
    }
}

/// The states that some `#[to(..)]` enters, with their positions.
pub(super) fn entered_states<'m, 'a>(
    machine: &'m Machine<'a>,
) -> impl Iterator<Item = (usize, &'m StateDecl<'a>)> + 'm {
    machine
        .states
        .iter()
        .enumerate()
        .filter(|&(index, _)| machine.states.iter().any(|state| state.enters(index)))
}

/// `` `A` ``, `` `A` or `B` ``, `` `A`, `B` or `C` ``; `no state` for none.
pub(super) fn either(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.as_slice() {
        [] => "no state: it is only ever the state a machine starts in".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `A -> B | C; B -> C` for every state with transitions (made once per lifecycle).
pub(super) fn table(machine: &Machine<'_>) -> String {
    machine
        .states
        .iter()
        .filter_map(|state| {
            state.to.as_ref()?;
            let targets: Vec<&str> = machine
                .successors(state)
                .into_iter()
                .map(|target| machine.states[target].name.as_str())
                .collect();
            Some(format!("{} -> {}", state.name, targets.join(" | ")))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The machine as a Mermaid `stateDiagram-v2`.
pub(super) fn mermaid(machine: &Machine<'_>) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    if let Some(initial) = machine.initial() {
        out += &format!("    [*] --> {}\n", machine.states[initial].name);
    }
    for state in &machine.states {
        for target in machine.successors(state) {
            out += &format!("    {} --> {}\n", state.name, machine.states[target].name);
        }
    }
    for state in machine.states.iter().filter(|s| s.is_terminal()) {
        out += &format!("    {} --> [*]\n", state.name);
    }
    if let Some(abandoned) = machine.abandoned() {
        out += &format!(
            "    note right of {} : abandoned (recorded when an owner is lost)\n",
            machine.states[abandoned].name
        );
    }
    out
}

/// The typed form of `state` with value `__T` and recorder `__R`, naming the runtime as
/// `runtime` (`::fixpoint::__private` beside the enum, `__fixpoint` in its const block).
pub(super) fn typed_state(
    runtime: &str,
    name: &str,
    module: &str,
    state: &StateDecl<'_>,
) -> String {
    if state.is_terminal() {
        format!("{runtime}::Terminal<{name}, __T>")
    } else {
        format!(
            "{runtime}::Tracked<{name}, {module}::{}, __T, __R>",
            state.name
        )
    }
}
