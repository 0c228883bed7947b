use std::cell::Cell;

use fixpoint::{invariant, invariant::Checked};

#[invariant(core::mem::size_of_val(&self.value) <= 8, "a slot holds at most 8 bytes")]
pub struct Slot<T> {
    value: T,
}

fn main() {
    let _ = Checked::new(Slot { value: 7_u64 }); // plain data: fine
    let _ = Checked::new(Slot { value: Cell::new(7_u64) });
}
