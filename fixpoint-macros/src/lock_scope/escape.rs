//! The escape hatch stays outside the contract: a `LockScope::unchecked(..)` made inside a
//! checked body would let a permit acquired through it cross any await unseen.

use std::collections::BTreeSet;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::ctxt::Errors;

/// The scope type's name, before any alias.
const SCOPE_TYPE: &str = "LockScope";

// No unchecked scope is opened anywhere in a checked body: not in a nested async block, a
// closure, a nested fn or a macro call, and not through an alias of `LockScope` the body makes.
// `body` is the body's tokens, made once by the caller for every check that reads them.
pub(crate) fn check_no_unchecked_scope(body: &TokenStream, errors: &mut Errors) {
    let names = scope_names(body);
    scan(body.clone(), &names, errors);
}

/// `LockScope` and the local names the body gives it (`use fixpoint::lock::LockScope as Scope;`,
/// `type Scope = fixpoint::lock::LockScope;`). An alias made outside the fn is not visible here.
fn scope_names(body: &TokenStream) -> BTreeSet<String> {
    let mut names = BTreeSet::from([SCOPE_TYPE.to_owned()]);
    collect_aliases(body.clone(), &mut names);
    names
}

fn collect_aliases(tokens: TokenStream, names: &mut BTreeSet<String>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        match (token, tokens.get(i + 1), tokens.get(i + 2)) {
            (TokenTree::Group(group), ..) => collect_aliases(group.stream(), names),
            // `LockScope as Scope`, in a `use`.
            (TokenTree::Ident(ty), Some(TokenTree::Ident(as_)), Some(TokenTree::Ident(alias)))
                if ty == SCOPE_TYPE && as_ == "as" =>
            {
                names.insert(alias.to_string());
            }
            // `type Scope = a::b::LockScope;`
            (
                TokenTree::Ident(type_),
                Some(TokenTree::Ident(alias)),
                Some(TokenTree::Punct(eq)),
            ) if type_ == "type" && eq.as_char() == '=' => {
                let target = tokens[i + 3..]
                    .iter()
                    .take_while(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
                    .last();
                if matches!(target, Some(TokenTree::Ident(last)) if last == SCOPE_TYPE) {
                    names.insert(alias.to_string());
                }
            }
            _ => {}
        }
    }
}

/// Reports every `Name::unchecked` and `<Name>::unchecked` in `tokens`, macro arguments included.
fn scan(tokens: TokenStream, names: &BTreeSet<String>, errors: &mut Errors) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Group(group) => scan(group.stream(), names, errors),
            TokenTree::Ident(ident) if ident == "unchecked" => {
                if let Some(start) = scope_path_start(&tokens[..i], names) {
                    report(tokens[start..=i].iter().cloned().collect(), errors);
                }
            }
            _ => {}
        }
    }
}

/// Where the path to `unchecked` begins, when the tokens before it are `Name ::` or
/// `< .. Name .. > ::` with `Name` one of the scope's names.
fn scope_path_start(before: &[TokenTree], names: &BTreeSet<String>) -> Option<usize> {
    let [.., owner, TokenTree::Punct(first), TokenTree::Punct(second)] = before else {
        return None;
    };
    if first.as_char() != ':' || second.as_char() != ':' {
        return None;
    }
    let owner_at = before.len() - 3;
    match owner {
        TokenTree::Ident(ident) if names.contains(&ident.to_string()) => Some(owner_at),
        TokenTree::Punct(close) if close.as_char() == '>' => {
            qualified_start(before, owner_at, names)
        }
        TokenTree::Group(group) if group.delimiter() == Delimiter::None => {
            names_scope(group.stream(), names).then_some(owner_at)
        }
        _ => None,
    }
}

/// The `<` that opens `<LockScope>` (or `<fixpoint::lock::LockScope as ..>`), when it names the scope.
fn qualified_start(
    before: &[TokenTree],
    close_at: usize,
    names: &BTreeSet<String>,
) -> Option<usize> {
    let open_at = before[..close_at]
        .iter()
        .rposition(|token| matches!(token, TokenTree::Punct(p) if p.as_char() == '<'))?;
    let inner: TokenStream = before[open_at + 1..close_at].iter().cloned().collect();
    names_scope(inner, names).then_some(open_at)
}

fn names_scope(tokens: TokenStream, names: &BTreeSet<String>) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => names.contains(&ident.to_string()),
        TokenTree::Group(group) => names_scope(group.stream(), names),
        _ => false,
    })
}

fn report(path: TokenStream, errors: &mut Errors) {
    errors.spanned(
        path,
        "`LockScope::unchecked` opens a scope that #[lock_scope(no_unbounded_await)] does not \
         check, so a permit acquired through it could cross any await unseen; acquire through \
         this fn's own scope (`pool.acquire(&lock_scope)`), or move the unchecked code into a \
         fn without the attribute",
    );
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use crate::ctxt::Errors;

    fn count(body: proc_macro2::TokenStream) -> usize {
        let block: syn::Block = syn::parse2(body).unwrap();
        let mut errors = Errors::default();
        super::check_no_unchecked_scope(&quote::ToTokens::to_token_stream(&block), &mut errors);
        errors.finish().err().map_or(0, |e| e.into_iter().count())
    }

    #[test]
    fn finds_every_spelling() {
        assert_eq!(
            count(quote!({
                let s = LockScope::unchecked("x");
            })),
            1
        );
        assert_eq!(
            count(quote!({
                let s = fixpoint::lock::LockScope::unchecked("x");
            })),
            1
        );
        assert_eq!(
            count(quote!({
                let s = <LockScope>::unchecked("x");
            })),
            1
        );
        assert_eq!(
            count(quote!({
                async move {
                    let s = LockScope::unchecked("x");
                }
                .await
            })),
            1
        );
        assert_eq!(
            count(quote!({
                let f = || LockScope::unchecked("x");
            })),
            1
        );
        assert_eq!(
            count(quote!({
                let v = vec![LockScope::unchecked("x")];
            })),
            1
        );
        assert_eq!(
            count(quote!({
                use fixpoint::lock::LockScope as S;
                let s = S::unchecked("x");
            })),
            1
        );
        assert_eq!(
            count(quote!({
                type S = fixpoint::lock::LockScope;
                let s = S::unchecked("x");
            })),
            1
        );
        // The alias read where it is, after other statements.
        assert_eq!(
            count(quote!({
                let first = 1;
                type S = fixpoint::lock::LockScope;
                let s = S::unchecked("x");
            })),
            1
        );
    }

    fn count_tokens(body: proc_macro2::TokenStream) -> usize {
        let mut errors = Errors::default();
        super::check_no_unchecked_scope(&body, &mut errors);
        errors.finish().err().map_or(0, |e| e.into_iter().count())
    }

    /// A `macro_rules!` that writes `$scope::unchecked(..)` hands the compiler `LockScope` in an
    /// invisible group: still the scope. Parentheses, or a macro's own tokens that only look
    /// like a path, are not.
    #[test]
    fn sees_the_scope_through_a_macro_variable_only() {
        use proc_macro2::{Delimiter, Group, TokenTree};
        let invisible = TokenTree::Group(Group::new(Delimiter::None, quote!(LockScope)));
        assert_eq!(count_tokens(quote!(let s = #invisible::unchecked("x");)), 1);
        assert_eq!(
            count_tokens(quote!(let s = <#invisible>::unchecked("x");)),
            1
        );
        // A qualified path that opens the tokens it is in.
        assert_eq!(count_tokens(quote!(<Other as Tr>::unchecked(1);)), 0);
        assert_eq!(count_tokens(quote!(<LockScope>::unchecked("x");)), 1);
        let parenthesized = TokenTree::Group(Group::new(Delimiter::Parenthesis, quote!(LockScope)));
        assert_eq!(
            count_tokens(quote!(dsl!(#parenthesized::unchecked("x"));)),
            0
        );
        assert_eq!(count_tokens(quote!(dsl!(<LockScope> + ::unchecked);)), 0);
    }

    #[test]
    fn leaves_other_uncheckeds_alone() {
        assert_eq!(
            count(quote!({
                let s = Other::unchecked("x");
                unchecked();
            })),
            0
        );
        assert_eq!(
            count(quote!({
                let s = <Other as Tr>::unchecked(1);
                x.unchecked();
            })),
            0
        );
        // The scope's other items, and a lifetime that happens to be called `'unchecked`.
        assert_eq!(
            count(quote!({
                let why = LockScope::reason(&lock_scope);
                fn keep<'unchecked>(scope: &'unchecked LockScope)
                where
                    LockScope: 'unchecked,
                {
                }
            })),
            0
        );
        // Only `type X = ..LockScope;` and `LockScope as X` name the scope: a `use` or a `let`
        // that ends in `LockScope` does not make `fixpoint` or `kind` one of its names.
        assert_eq!(
            count(quote!({
                use fixpoint::lock::LockScope;
                let kind = marker::LockScope;
                let a = fixpoint::unchecked(1);
                let b = kind::unchecked(2);
            })),
            0
        );
    }
}
