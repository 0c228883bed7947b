use fixpoint::invariant::Invariants;
use fixpoint::{invariant, invariant::Checked};

#[invariant(const core::mem::size_of::<Self>() <= 64, "a slot fits one cache line")]
#[invariant(const Self::CAPACITY.is_power_of_two(), "the capacity is a power of two")]
#[invariant(self.len <= Self::CAPACITY, "a slot holds at most its capacity")]
pub struct Slot {
    keys: [u32; 8],
    len: usize,
}

impl Slot {
    const CAPACITY: usize = 8;
}

fn main() {
    assert_eq!(Slot::CONST_INVARIANTS.len(), 2);
    assert_eq!(Slot::INVARIANTS.len(), 1);
    let slot = Checked::new(Slot { keys: [0; 8], len: 8 }).unwrap();
    assert_eq!(slot.keys().len(), 8);
}
