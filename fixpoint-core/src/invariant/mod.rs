#![doc = include_str!("guide.md")]

// Invariants as contracts checked on every write.
//
// `#[invariant(predicate, "why")]` on a struct implements [`Invariants`] for it: the
// predicates, kept as data, and a check that runs them all. [`Checked<T>`] is the only form in
// which such a value is trusted: construction, every mutation and deserialization (feature
// `serde`) run the check, a violating change leaves the old value in place and hands the
// rejected one back in the error, and there is no way to write around it (no `DerefMut`, no
// `&mut` escape).

mod checked;
mod describe;
mod plain;

use core::fmt;

pub use checked::{Checked, Rejected};
#[doc(hidden)]
pub use describe::{DebugProbe, ViaDebug, ViaNothing};
#[doc(hidden)]
pub use plain::{__inline_cells, __no_interior_mutability, NoInteriorMutability};

/// A type whose values must satisfy declared predicates. Implemented by `#[invariant]`, never by
/// hand.
pub trait Invariants: Sized {
    /// The type's name, as errors print it.
    const TYPE_NAME: &'static str;

    /// Every declared invariant, in declaration order (runtime ones; `const` ones are checked
    /// by the compiler and listed in [`CONST_INVARIANTS`](Invariants::CONST_INVARIANTS)).
    const INVARIANTS: &'static [Invariant];

    /// The `#[invariant(const ..)]` rules, already proven by the compiler.
    const CONST_INVARIANTS: &'static [Invariant] = &[];

    /// Runs every predicate, in order.
    ///
    /// # Errors
    ///
    /// The first [`Violation`]: which rule, its message, its source, and the value.
    #[inline]
    fn check(&self) -> Result<(), Violation> {
        if self.__holds() {
            Ok(())
        } else {
            Err(self.__locate())
        }
    }

    /// Whether every predicate holds: the conjunction, inlined where the check runs.
    #[doc(hidden)]
    fn __holds(&self) -> bool;

    /// Finds the first broken rule, after `__holds` saw one break. Out of line and cold, so
    /// that a check whose rules hold costs the predicates alone.
    #[doc(hidden)]
    fn __locate(&self) -> Violation;
}

/// One declared invariant: what the macro read from the attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Invariant {
    /// `name = ..`, when given.
    pub name: Option<&'static str>,
    /// Why the rule holds: the attribute's message.
    pub message: &'static str,
    /// The predicate as written.
    pub source: &'static str,
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name {
            write!(f, "`{name}`: ")?;
        }
        write!(f, "{} (`{}`)", self.message, self.source)
    }
}

/// A value that breaks an invariant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{type_name} breaks invariant {}: {}; `{}` is false{}",
    rule_name(*.index, .invariant),
    .invariant.message,
    .invariant.source,
    value_suffix(.value)
)]
pub struct Violation {
    /// The type whose invariant broke.
    pub type_name: &'static str,
    /// The position of the rule among the type's invariants, from 0.
    pub index: usize,
    /// The rule.
    pub invariant: Invariant,
    /// The offending value, printed with `Debug` when the type implements it.
    pub value: Option<String>,
}

impl Violation {
    /// The violation of rule `index` of `T` by a value described as `value`.
    #[doc(hidden)]
    #[must_use]
    pub fn __new<T: Invariants>(index: usize, value: Option<String>) -> Self {
        Violation {
            type_name: T::TYPE_NAME,
            index,
            invariant: T::INVARIANTS[index],
            value,
        }
    }
}

fn rule_name(index: usize, invariant: &Invariant) -> String {
    match invariant.name {
        Some(name) => format!("`{name}`"),
        None => format!("#{}", index + 1),
    }
}

fn value_suffix(value: &Option<String>) -> String {
    value
        .as_ref()
        .map(|value| format!(" for {value}"))
        .unwrap_or_default()
}

/// Checks every value of `values` against every invariant of `T`, for tests: the values a
/// fixture, a generator or a migration produces.
///
/// # Errors
///
/// Every violation, with the position of the value that broke it.
///
/// ```
/// use fixpoint::{invariant, invariant::check_all};
///
/// #[invariant(self.low <= self.high, "a range is not inverted")]
/// #[derive(Debug)]
/// pub struct Range { low: u32, high: u32 }
///
/// let fixtures = [Range { low: 1, high: 2 }, Range { low: 3, high: 1 }];
/// let broken = check_all(&fixtures).unwrap_err();
/// assert_eq!(broken.len(), 1);
/// assert_eq!(broken[0].0, 1);
/// ```
pub fn check_all<'a, T: Invariants + 'a>(
    values: impl IntoIterator<Item = &'a T>,
) -> Result<(), Vec<(usize, Violation)>> {
    let broken: Vec<_> = values
        .into_iter()
        .enumerate()
        .filter_map(|(position, value)| value.check().err().map(|v| (position, v)))
        .collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken)
    }
}

/// Panics, listing every violation, unless every invariant of `T` holds for every value.
///
/// # Panics
///
/// When any value breaks any invariant.
#[track_caller]
pub fn assert_all_hold<'a, T: Invariants + 'a>(values: impl IntoIterator<Item = &'a T>) {
    if let Err(broken) = check_all(values) {
        let lines: Vec<String> = broken
            .iter()
            .map(|(position, violation)| format!("  value {position}: {violation}"))
            .collect();
        panic!(
            "{} of the values break invariants of {}:\n{}",
            broken.len(),
            T::TYPE_NAME,
            lines.join("\n")
        );
    }
}
