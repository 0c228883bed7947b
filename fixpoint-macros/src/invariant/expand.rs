//! Code generation for a validated struct: the `Invariants` impl (checks and rules as data),
//! compile-time assertions for `const` rules, and the checked accessors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Fields};

use super::model::{Model, Rule};
use crate::private;

pub(crate) fn expand(model: &Model<'_>, stripped: &DeriveInput) -> TokenStream {
    let invariants = expand_invariants(model);
    let constants = expand_constants(model);
    let accessors = expand_accessors(model);
    quote! {
        #stripped
        #invariants
        #constants
        #accessors
    }
}

/// `impl Invariants`: the runtime rules as data, and one check per rule.
fn expand_invariants(model: &Model<'_>) -> TokenStream {
    let item = model.item;
    let name = &item.ident;
    let name_text = name.to_string();
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
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
    let private = private::path();
    let mut signatures = Vec::new();
    let mut bodies = Vec::new();
    let named = matches!(data.fields, Fields::Named(_));
    for (index, field) in data.fields.iter().enumerate() {
        let ty = &field.ty;
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
            fn #getter(&self) -> &#ty;
            #[doc = #set_doc]
            ///
            /// # Errors
            ///
            /// `Rejected` with the refused value when a rule would break.
            fn #setter(&mut self, value: #ty) -> ::core::result::Result<#ty, #private::Rejected<#ty>>;
        });
        bodies.push(quote! {
            #[inline]
            fn #getter(&self) -> &#ty {
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
        impl #impl_generics #trait_name #ty_generics for #private::Checked<#name #ty_generics> #where_clause {
            #(#bodies)*
        }
    }
}
