//! The type-level half of the interior-mutability check: a field that a rule reads must not be
//! changeable through the `&T` that `Checked<T>` hands out. `#[invariant]` names the items
//! here for each field its rules read; they are not meant to be used by hand.

use core::panic::RefUnwindSafe;

/// A field type whose value `&` access cannot change as far as stable Rust can tell: it holds
/// no `Cell`, `RefCell`, `OnceCell`, `LazyCell` or `UnsafeCell`, inline or behind a pointer.
///
/// Implemented for every type that is `RefUnwindSafe`, the auto trait that those cells opt out
/// of. Types that opt back in (`Mutex`, `RwLock`, atomics, `OnceLock`, `LazyLock`, any type with
/// a manual `impl RefUnwindSafe`) pass this bound; [`__inline_cells`] catches the ones held
/// inline, and the macro catches them by name. A trait object without `+ RefUnwindSafe` does not
/// pass: it could hide a cell.
#[diagnostic::on_unimplemented(
    message = "`{Self}` may be changed through a shared reference, and an invariant reads it",
    label = "an invariant reads a field of this type, so a change made through `&` would skip \
             the check",
    note = "`{Self}` holds a `Cell`, `RefCell`, `OnceCell`, `LazyCell`, `UnsafeCell` or a trait \
            object (which could hide one), so `Checked` cannot keep the rule true",
    note = "make the field plain data (a trait object promises it with `+ RefUnwindSafe`), or \
            keep every rule off it, or, if the rule holds anyway, say why on the field: \
            #[invariant(allow_interior_mutability = \"why the rule still holds\")]"
)]
pub trait NoInteriorMutability {}

#[diagnostic::do_not_recommend]
impl<T: ?Sized + RefUnwindSafe> NoInteriorMutability for T {}

/// Compiles for a field type that passes [`NoInteriorMutability`]; generated code takes its
/// address so that the bound is checked where the field is declared.
#[doc(hidden)]
pub const fn __no_interior_mutability<T: ?Sized + NoInteriorMutability>() {}

/// An empty array of `T`: borrowing it in a constant is refused by the compiler (E0492) exactly
/// when `T` holds an `UnsafeCell` inline, which is how the generated check sees a `Mutex`, an
/// atomic or a user type wrapping one.
#[doc(hidden)]
#[must_use]
pub const fn __inline_cells<T>() -> [T; 0] {
    []
}
