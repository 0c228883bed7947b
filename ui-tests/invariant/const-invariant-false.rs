use fixpoint::invariant;

#[invariant(const core::mem::size_of::<Self>() <= 64, "a slot fits one cache line")]
pub struct Slot {
    keys: [u64; 8],
    values: [u64; 8],
}

fn main() {}
