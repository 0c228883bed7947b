//! The checked form: the only way to hold, change or deserialize a value with invariants.

use core::fmt;
use core::ops::Deref;
use std::sync::OnceLock;

use super::{Invariants, Violation};

/// A value of `T` whose every invariant holds, and keeps holding.
///
/// Reading is free: `Checked<T>` derefs to `&T`. Writing goes through a check:
/// [`try_replace`](Checked::try_replace), [`update`](Checked::update),
/// [`modify`](Checked::modify), and the `set_<field>` methods `#[invariant]` generates. A change
/// that would break a rule is not applied: the old value stays, and the error carries the
/// rejected one back, so nothing is lost. There is no `DerefMut` and no `&mut T`, so no write
/// can skip the check.
///
/// ```
/// use fixpoint::{invariant, invariant::Checked};
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// pub enum Status { Running, InputNeeded }
///
/// #[invariant(
///     name = follow_up_exists,
///     self.status != Status::InputNeeded || self.follow_up.is_some(),
///     "a project waiting for input has a follow-up row"
/// )]
/// #[derive(Debug, Clone)]
/// pub struct Project { status: Status, follow_up: Option<u64> }
///
/// let mut project = Checked::new(Project { status: Status::Running, follow_up: None }).unwrap();
/// let refused = project.set_status(Status::InputNeeded).unwrap_err();
/// assert_eq!(refused.into_rejected(), Status::InputNeeded); // handed back
/// assert_eq!(project.status(), &Status::Running);             // unchanged
/// ```
///
/// Writing around the check does not compile:
///
/// ```compile_fail,E0594
/// # use fixpoint::{invariant, invariant::Checked};
/// # #[invariant(self.budget > 0, "a project has a budget")]
/// # pub struct Project { budget: u32 }
/// let mut project = Checked::new(Project { budget: 5 }).unwrap();
/// project.budget = 0; // no DerefMut: assignment through the checked form is refused
/// ```
///
/// ```compile_fail,E0596
/// # use fixpoint::{invariant, invariant::Checked};
/// # #[invariant(self.budget > 0, "a project has a budget")]
/// # pub struct Project { budget: u32 }
/// let mut project = Checked::new(Project { budget: 5 }).unwrap();
/// let budget = &mut project.budget; // no `&mut` escape either
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checked<T> {
    value: T,
}

impl<T: Invariants> Checked<T> {
    /// Checks every invariant of `value`.
    ///
    /// # Errors
    ///
    /// [`Rejected`] with the first broken rule and `value` itself.
    #[inline]
    pub fn new(value: T) -> Result<Self, Rejected<T>> {
        if value.__holds() {
            Ok(Checked { value })
        } else {
            Err(Rejected::of(value))
        }
    }

    /// Gives the value up; it is no longer checked.
    #[must_use]
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Replaces the whole value with `value` if it satisfies every invariant, returning the old
    /// one. Rollback costs nothing: the check runs before anything moves.
    ///
    /// # Errors
    ///
    /// [`Rejected`] with `value`; `self` is unchanged.
    pub fn try_replace(&mut self, value: T) -> Result<T, Rejected<T>> {
        if value.__holds() {
            Ok(core::mem::replace(&mut self.value, value))
        } else {
            Err(Rejected::of(value))
        }
    }

    /// Builds a new value from the current one and keeps it if it satisfies every invariant.
    /// Rollback costs nothing: the old value is never touched.
    ///
    /// # Errors
    ///
    /// [`Rejected`] with the new value; `self` is unchanged.
    pub fn update(&mut self, f: impl FnOnce(&T) -> T) -> Result<(), Rejected<T>> {
        let value = f(&self.value);
        self.try_replace(value).map(drop)
    }

    /// Changes the value in place through `f`, then checks. Rollback is paid with a clone taken
    /// before `f` runs; prefer the generated `set_<field>` methods (rollback by swap) or
    /// [`update`](Checked::update) on hot paths.
    ///
    /// # Errors
    ///
    /// [`Rejected`] with the changed value; `self` keeps the value it had before `f`.
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> Result<R, Rejected<T>>
    where
        T: Clone,
    {
        let mut value = self.value.clone();
        let output = f(&mut value);
        self.try_replace(value)?;
        Ok(output)
    }

    /// Sets one field and checks, rolling back by swapping the old value in. Generated setters
    /// call this.
    #[doc(hidden)]
    pub fn __set<V>(&mut self, field: fn(&mut T) -> &mut V, value: V) -> Result<V, Rejected<V>> {
        let old = core::mem::replace(field(&mut self.value), value);
        if self.value.__holds() {
            Ok(old)
        } else {
            Err(self.roll_back(field, old))
        }
    }

    /// Puts `old` back into the field and returns the refused value with the broken rule.
    #[cold]
    #[inline(never)]
    fn roll_back<V>(&mut self, field: fn(&mut T) -> &mut V, old: V) -> Rejected<V> {
        let violation = self.value.__locate();
        let rejected = core::mem::replace(field(&mut self.value), old);
        Rejected::located(violation, rejected)
    }
}

impl<T> Deref for Checked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> AsRef<T> for Checked<T> {
    fn as_ref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Checked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Checked").field(&self.value).finish()
    }
}

impl<T: fmt::Display> fmt::Display for Checked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// A change refused because it would break an invariant, with the value that was refused.
pub struct Rejected<V> {
    // Found when first asked for: refusing a whole value is then a move, like a hand-written
    // `Err(value)`, and the rule is located only if someone reads it.
    violation: OnceLock<Box<Violation>>,
    locate: Option<fn(&V) -> Violation>,
    rejected: V,
}

impl<T: Invariants> Rejected<T> {
    /// The refusal of `value`, which breaks a rule; which one is found on demand.
    #[inline]
    fn of(value: T) -> Self {
        Rejected {
            violation: OnceLock::new(),
            locate: Some(T::__locate),
            rejected: value,
        }
    }
}

impl<V> Rejected<V> {
    fn located(violation: Violation, rejected: V) -> Self {
        Rejected {
            violation: OnceLock::from(Box::new(violation)),
            locate: None,
            rejected,
        }
    }

    /// Which rule the change broke.
    #[must_use]
    pub fn violation(&self) -> &Violation {
        self.violation.get_or_init(|| {
            let locate = self
                .locate
                .expect("a refusal is created with its rule or the means to find it");
            Box::new(locate(&self.rejected))
        })
    }

    /// The refused value, handed back.
    #[must_use]
    pub fn into_rejected(self) -> V {
        self.rejected
    }

    /// The rule and the refused value.
    #[must_use]
    pub fn into_parts(self) -> (Violation, V) {
        let violation = self.violation().clone();
        (violation, self.rejected)
    }
}

impl<V: Clone> Clone for Rejected<V> {
    fn clone(&self) -> Self {
        Rejected::located(self.violation().clone(), self.rejected.clone())
    }
}

impl<V: PartialEq> PartialEq for Rejected<V> {
    fn eq(&self, other: &Self) -> bool {
        self.violation() == other.violation() && self.rejected == other.rejected
    }
}

impl<V: Eq> Eq for Rejected<V> {}

impl<V> fmt::Debug for Rejected<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("violation", self.violation())
            .finish_non_exhaustive()
    }
}

impl<V> fmt::Display for Rejected<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "change refused: {}", self.violation())
    }
}

impl<V> std::error::Error for Rejected<V> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.violation())
    }
}

#[cfg(feature = "serde")]
impl<T: serde::Serialize> serde::Serialize for Checked<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

/// Deserializing runs every invariant: bad input is a deserialization error naming the rule,
/// and no invalid value is built.
#[cfg(feature = "serde")]
impl<'de, T: serde::Deserialize<'de> + Invariants> serde::Deserialize<'de> for Checked<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = T::deserialize(deserializer)?;
        Checked::new(value).map_err(|rejected| serde::de::Error::custom(rejected.violation()))
    }
}
