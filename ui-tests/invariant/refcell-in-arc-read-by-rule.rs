use std::cell::RefCell;
use std::sync::Arc;

use fixpoint::invariant;

#[invariant(self.log.borrow().len() <= 100, "a session keeps at most 100 log lines")]
pub struct Session {
    log: Arc<RefCell<Vec<String>>>,
}

fn main() {}
