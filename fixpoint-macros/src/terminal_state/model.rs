//! The lifecycle as read from the enum, borrowing the syn nodes so that every later check can
//! point at the user's tokens.

use syn::{Attribute, Data, DeriveInput, Fields, Ident, Variant, Visibility};

use super::attr::{self, Args};
use crate::ctxt::Errors;
use crate::names;

/// One `#[terminal_state]` enum.
pub(crate) struct Machine<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) ident: &'a Ident,
    /// The enum's name as text, read once (formatting an `Ident` asks the compiler for it).
    pub(crate) name: String,
    pub(crate) vis: &'a Visibility,
    /// The generated module of state markers.
    pub(crate) module: Ident,
    /// `#[terminal_state(resume)]`: generate `Resume` and the `<Enum>Resumed` enum.
    pub(crate) resume: bool,
    pub(crate) states: Vec<StateDecl<'a>>,
}

/// One variant: a state.
pub(crate) struct StateDecl<'a> {
    pub(crate) original: &'a Variant,
    pub(crate) ident: &'a Ident,
    /// The variant's name as text, read once: comparing two `Ident`s formats both, which
    /// made lookups by name most of the attribute's own run time.
    pub(crate) name: String,
    /// The name of [`method`](Self::method), made once: the expansion and the checks name it
    /// several times each.
    pub(crate) method_name: String,
    pub(crate) initial: Option<&'a Attribute>,
    pub(crate) terminal: Option<&'a Attribute>,
    pub(crate) abandoned: Option<&'a Attribute>,
    pub(crate) to: Option<Targets<'a>>,
    /// A `#[to]` attribute that did not parse (already reported).
    pub(crate) to_malformed: bool,
}

/// A `#[to(..)]` attribute and the states it names.
pub(crate) struct Targets<'a> {
    pub(crate) attr: &'a Attribute,
    pub(crate) idents: Vec<Ident>,
    /// The state each of `idents` names (`None`: an unknown state), resolved once.
    pub(crate) resolved: Vec<Option<usize>>,
}

impl<'a> Machine<'a> {
    /// The model, or `None` when the item is not an enum (the error is recorded).
    pub(crate) fn from_syn(item: &'a DeriveInput, args: Args, errors: &mut Errors) -> Option<Self> {
        let data = match &item.data {
            Data::Enum(data) => data,
            Data::Struct(data) => return not_an_enum(data.struct_token, &item.ident, errors),
            Data::Union(data) => return not_an_enum(data.union_token, &item.ident, errors),
        };
        for attr in item.attrs.iter().filter(|a| attr::name(a).is_some()) {
            errors.spanned(
                attr,
                "this attribute belongs on a variant of the lifecycle enum, not on the enum",
            );
        }
        let name = item.ident.to_string();
        let module = args
            .module
            .unwrap_or_else(|| names::ident(&names::snake_case(&name), item.ident.span()));
        let mut states: Vec<StateDecl<'a>> = data
            .variants
            .iter()
            .map(|v| StateDecl::from_syn(v, errors))
            .collect();
        let names: Vec<String> = states.iter().map(|s| s.name.clone()).collect();
        for to in states.iter_mut().filter_map(|s| s.to.as_mut()) {
            to.resolved = to
                .idents
                .iter()
                .map(|t| {
                    let target = t.to_string();
                    names.iter().position(|name| *name == target)
                })
                .collect();
        }
        Some(Machine {
            original: item,
            ident: &item.ident,
            name,
            vis: &item.vis,
            module,
            resume: args.resume,
            states,
        })
    }

    /// The states `state` may go to, as indices, in declared order (unknown targets left out).
    pub(crate) fn successors(&self, state: &StateDecl<'_>) -> Vec<usize> {
        let targets = state.to.as_ref().map_or(&[][..], |to| &to.resolved[..]);
        targets.iter().flatten().copied().collect()
    }

    /// The states that declare an edge into state `index`.
    pub(crate) fn predecessors(&self, index: usize) -> Vec<&StateDecl<'a>> {
        self.states
            .iter()
            .filter(|state| state.enters(index))
            .collect()
    }

    pub(crate) fn initial(&self) -> Option<usize> {
        self.states.iter().position(|state| state.initial.is_some())
    }

    pub(crate) fn abandoned(&self) -> Option<usize> {
        self.states
            .iter()
            .position(|state| state.abandoned.is_some())
    }
}

fn not_an_enum<T>(keyword: impl quote::ToTokens, ident: &Ident, errors: &mut Errors) -> Option<T> {
    errors.spanned(
        quote::quote!(#keyword #ident),
        "#[terminal_state] belongs on an enum whose variants are the states of a lifecycle; \
         write `enum` with one variant per state",
    );
    None
}

impl<'a> StateDecl<'a> {
    fn from_syn(variant: &'a Variant, errors: &mut Errors) -> Self {
        let name = variant.ident.to_string();
        let mut state = StateDecl {
            original: variant,
            ident: &variant.ident,
            method_name: format!("to_{}", names::snake_case(&name)),
            name,
            initial: None,
            terminal: None,
            abandoned: None,
            to: None,
            to_malformed: false,
        };
        for attr in &variant.attrs {
            state.read_attr(attr, errors);
        }
        state
    }

    fn read_attr(&mut self, attr: &'a Attribute, errors: &mut Errors) {
        let Some(name) = attr::name(attr) else {
            return;
        };
        let duplicate = match name {
            "initial" => self.initial.replace(attr).is_some(),
            "terminal" => self.terminal.replace(attr).is_some(),
            "abandoned" => self.abandoned.replace(attr).is_some(),
            _ => self.to.is_some(),
        };
        if duplicate {
            let hint = if name == "to" {
                "; list every target in one #[to(..)]"
            } else {
                ""
            };
            let state = self.ident;
            errors.spanned(
                attr,
                format_args!("duplicate #[{name}] on state `{state}`{hint}"),
            );
            return;
        }
        if name == "to" {
            match attr::parse_to(attr, errors) {
                Some(idents) => {
                    self.to = Some(Targets {
                        attr,
                        idents,
                        resolved: Vec::new(),
                    });
                }
                None => self.to_malformed = true,
            }
        } else {
            attr::parse_flag(attr, errors);
        }
    }

    pub(crate) fn is_terminal(&self) -> bool {
        self.terminal.is_some()
    }

    pub(crate) fn fields(&self) -> &'a Fields {
        &self.original.fields
    }

    pub(crate) fn carries_data(&self) -> bool {
        !self.fields().is_empty()
    }

    /// Whether this state's `#[to(..)]` names the state at `index`.
    pub(crate) fn enters(&self, index: usize) -> bool {
        self.to
            .as_ref()
            .is_some_and(|to| to.resolved.contains(&Some(index)))
    }

    /// The transition method that enters this state: `to_input_needed`.
    pub(crate) fn method(&self) -> Ident {
        Ident::new(&self.method_name, self.ident.span())
    }
}
