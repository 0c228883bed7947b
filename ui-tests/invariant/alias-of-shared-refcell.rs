use std::cell::RefCell;
use std::rc::Rc;

use fixpoint::invariant;

/// An alias hides the name from the macro; the type check still sees the cell.
pub type Shared = Rc<RefCell<Vec<u8>>>;

#[invariant(self.buffer.borrow().len() <= 64, "a frame is at most 64 bytes")]
pub struct Frame {
    buffer: Shared,
}

fn main() {}
