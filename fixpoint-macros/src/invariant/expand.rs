//! Code generation for a validated struct: the `Invariants` impl (checks and rules as data),
//! compile-time assertions for `const` rules, and the checked accessors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{DeriveInput, Fields, Type};

use super::model::{Model, Rule};
use crate::private;

pub(crate) fn expand(model: &Model<'_>, stripped: &DeriveInput) -> TokenStream {
    let invariants = expand_invariants(model);
    let constants = expand_constants(model);
    let accessors = expand_accessors(model);
    let plain = expand_plain_fields(model);
    quote! {
        #stripped
        #invariants
        #constants
        #accessors
        #plain
    }
}

/// `impl Invariants`: the runtime rules as data, and one check per rule.
fn expand_invariants(model: &Model<'_>) -> TokenStream {
    let item = model.item;
    let name = &item.ident;
    let name_text = name.to_string();
    let (impl_generics, ty_generics, _) = item.generics.split_for_impl();
    let where_clause = plain_where_clause(model);
    let private = private::path();
    let runtime: Vec<&Rule> = model.rules.iter().filter(|r| !r.constant).collect();
    let constant: Vec<&Rule> = model.rules.iter().filter(|r| r.constant).collect();
    let infos = runtime.iter().map(|rule| info(rule));
    let const_infos = constant.iter().map(|rule| info(rule));
    let conditions: Vec<TokenStream> = runtime
        .iter()
        .map(|rule| {
            let predicate = &rule.predicate;
            // Spanned at the predicate, so a predicate that is not a `bool` is reported there.
            quote_spanned!(predicate.span()=> {
                let __fixpoint_holds: bool = #predicate;
                __fixpoint_holds
            })
        })
        .collect();
    let indices = 0..conditions.len();
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::Invariants for #name #ty_generics #where_clause {
            const TYPE_NAME: &'static str = #name_text;
            const INVARIANTS: &'static [#private::Invariant] = &[#(#infos),*];
            const CONST_INVARIANTS: &'static [#private::Invariant] = &[#(#const_infos),*];

            #[inline]
            fn __holds(&self) -> bool {
                true #(&& #conditions)*
            }

            #[cold]
            #[inline(never)]
            fn __locate(&self) -> #private::Violation {
                #[allow(unused_imports)] // one of the two describes the value
                use #private::{ViaDebug as _, ViaNothing as _};
                let __value = (&#private::DebugProbe(self)).describe();
                #(
                    if !#conditions {
                        return #private::Violation::__new::<Self>(#indices, __value);
                    }
                )*
                // Unreachable while the predicates are pure; a predicate that changed its mind
                // is reported against the first rule rather than hidden.
                #private::Violation::__new::<Self>(0, __value)
            }
        }
    }
}

fn info(rule: &Rule) -> TokenStream {
    let name = match &rule.name {
        Some(name) => {
            let name = name.to_string();
            quote!(::core::option::Option::Some(#name))
        }
        None => quote!(::core::option::Option::None),
    };
    let message = &rule.message;
    let source = rule.source();
    let private = private::path();
    quote!(#private::Invariant { name: #name, message: #message, source: #source })
}

/// `#[invariant(const ..)]`: an associated constant that asserts the rule, evaluated by a
/// `const _` item, so a false rule fails the build with its message.
fn expand_constants(model: &Model<'_>) -> TokenStream {
    let item = model.item;
    let name = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let mut items = Vec::new();
    let mut uses = Vec::new();
    for (index, rule) in model.rules.iter().filter(|r| r.constant).enumerate() {
        let constant = format_ident!("__FIXPOINT_CONST_INVARIANT_{}", index);
        let predicate = &rule.predicate;
        let message = format!(
            "{} breaks invariant `{}`: {}",
            name,
            rule.source(),
            rule.message.value()
        );
        items.push(quote_spanned! {predicate.span()=>
            #[doc(hidden)]
            const #constant: () = ::core::assert!(#predicate, #message);
        });
        uses.push(quote!(const _: () = #name::#constant;));
    }
    if items.is_empty() {
        return TokenStream::new();
    }
    // A generic struct's constants are checked for each use with concrete parameters instead.
    let evaluate = item.generics.params.is_empty().then(|| quote!(#(#uses)*));
    quote! {
        #[automatically_derived]
        impl #impl_generics #name #ty_generics #where_clause {
            #(#items)*
        }
        #evaluate
    }
}

/// `trait ProjectChecked`, implemented for `Checked<Project>`: a getter and a checked setter per
/// field, the way code outside the struct's module reads and writes it.
fn expand_accessors(model: &Model<'_>) -> TokenStream {
    let item = model.item;
    let (name, vis) = (&item.ident, &item.vis);
    let syn::Data::Struct(data) = &item.data else {
        return TokenStream::new();
    };
    let trait_name = format_ident!("{}Checked", name);
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    // The setters check, so they need what the `Invariants` impl needs.
    let checked_where = plain_where_clause(model);
    let private = private::path();
    let mut signatures = Vec::new();
    let mut bodies = Vec::new();
    let named = matches!(data.fields, Fields::Named(_));
    for (index, field) in data.fields.iter().enumerate() {
        let ty = &field.ty;
        let referent = referent(ty);
        let member: syn::Member = match &field.ident {
            Some(ident) => ident.clone().into(),
            None => syn::Index::from(index).into(),
        };
        let (getter, setter) = match &field.ident {
            Some(ident) => (ident.clone(), format_ident!("set_{}", ident)),
            None => (
                format_ident!("field_{}", index),
                format_ident!("set_field_{}", index),
            ),
        };
        let shown = match &field.ident {
            Some(ident) => ident.to_string(),
            None => index.to_string(),
        };
        let get_doc = format!(" The `{shown}` field.");
        let set_doc = format!(
            " Sets `{shown}` if every invariant of `{name}` still holds; otherwise leaves the \
             value unchanged and hands `value` back in the error. Returns the previous `{shown}`."
        );
        signatures.push(quote! {
            #[doc = #get_doc]
            fn #getter(&self) -> &#referent;
            #[doc = #set_doc]
            ///
            /// # Errors
            ///
            /// `Rejected` with the refused value when a rule would break.
            fn #setter(&mut self, value: #ty) -> ::core::result::Result<#ty, #private::Rejected<#ty>>;
        });
        bodies.push(quote! {
            #[inline]
            fn #getter(&self) -> &#referent {
                &::core::ops::Deref::deref(self).#member
            }
            #[inline]
            fn #setter(&mut self, value: #ty) -> ::core::result::Result<#ty, #private::Rejected<#ty>> {
                #private::Checked::__set(self, |__value: &mut #name #ty_generics| &mut __value.#member, value)
            }
        });
    }
    if signatures.is_empty() {
        return TokenStream::new();
    }
    let doc = format!(
        " Reads and checked writes of each field of a `Checked<{name}>`{}.",
        if named { "" } else { " (by position)" }
    );
    quote! {
        #[doc = #doc]
        #vis trait #trait_name #impl_generics #where_clause {
            #(#signatures)*
        }

        #[automatically_derived]
        impl #impl_generics #trait_name #ty_generics for #private::Checked<#name #ty_generics> #checked_where {
            #(#bodies)*
        }
    }
}

/// The field types that a rule may read and that do not declare
/// `ty` as the referent of a `&`: a trait object with `+` in it (`dyn Debug + Send`, or a
/// bare `Trait +` that rustc refuses later) needs parentheses there, or `&` binds to its first
/// bound only (E0178) and the getter would not parse. Any other type is written as it is, so
/// that no parentheses are left for the `unused_parens` lint.
fn referent(ty: &Type) -> TokenStream {
    match ty {
        Type::TraitObject(object) if object.bounds.len() > 1 || object.bounds.trailing_punct() => {
            quote!((#ty))
        }
        _ => quote!(#ty),
    }
}

/// `#[invariant(allow_interior_mutability = "..")]`: each must hold no interior mutability.
fn read_fields<'m>(model: &'m Model<'_>) -> impl Iterator<Item = &'m Type> {
    model
        .fields
        .iter()
        .filter(|field| field.interior_mutability.is_none())
        .filter(|field| model.rule_reading(&field.name).is_some())
        .map(|field| &field.original.ty)
        .filter(|ty| !is_phantom(ty))
}

/// `PhantomData<..>` holds nothing, but is `RefUnwindSafe` only when its parameter is.
fn is_phantom(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == "PhantomData"))
}

/// Whether `ty` names one of the struct's type or const parameters, or `Self`: then it can only
/// be checked where the struct is used, through the `Invariants` impl's where clause.
fn is_generic(model: &Model<'_>, ty: &Type) -> bool {
    let params: Vec<String> = model
        .item
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            syn::GenericParam::Type(param) => Some(param.ident.to_string()),
            syn::GenericParam::Const(param) => Some(param.ident.to_string()),
            syn::GenericParam::Lifetime(_) => None,
        })
        .chain(["Self".to_owned()])
        .collect();
    params
        .iter()
        .any(|param| super::valid::mentions(quote::ToTokens::to_token_stream(ty), param))
}

/// The struct's where clause, plus `FieldType: NoInteriorMutability` for each generic field type
/// a rule reads, spanned at the field so that a failing use points there.
fn plain_where_clause(model: &Model<'_>) -> TokenStream {
    let bounds: Vec<TokenStream> = read_fields(model)
        .filter(|ty| is_generic(model, ty))
        .map(|ty| quote_spanned!(ty.span()=> #ty: ::fixpoint::invariant::NoInteriorMutability))
        .collect();
    let existing = model.item.generics.where_clause.as_ref();
    if bounds.is_empty() {
        return quote!(#existing);
    }
    let predicates = existing.map(|clause| &clause.predicates);
    let comma = predicates
        .filter(|p| !p.empty_or_trailing())
        .map(|_| quote!(,));
    quote!(where #predicates #comma #(#bounds),*)
}

/// For each concrete field type a rule reads, two assertions checked where the field is declared:
/// the type holds no cell at all (`RefUnwindSafe`, with a message that names the contract), and
/// it holds no `UnsafeCell` inline (a borrow the compiler refuses in a constant, E0492).
fn expand_plain_fields(model: &Model<'_>) -> TokenStream {
    let checks = read_fields(model)
        .filter(|ty| !is_generic(model, ty))
        .map(|ty| {
            // A constant names no lifetime parameter; auto traits do not depend on lifetimes.
            let mut ty = ty.clone();
            StaticLifetimes.visit_type_mut(&mut ty);
            let span = ty.span();
            let path = quote_spanned!(span=> ::fixpoint::invariant);
            quote_spanned! {span=>
                #[allow(clippy::redundant_static_lifetimes)] // the field's lifetimes, made 'static
                const _: fn() = #path::__no_interior_mutability::<#ty>;
                #[allow(clippy::redundant_static_lifetimes)] // the field's lifetimes, made 'static
                const _: &[#ty] = &#path::__inline_cells::<#ty>();
            }
        });
    quote!(#(#checks)*)
}

/// Replaces every lifetime with `'static`.
struct StaticLifetimes;

impl VisitMut for StaticLifetimes {
    fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
        lifetime.ident = proc_macro2::Ident::new("static", lifetime.ident.span());
    }
}
