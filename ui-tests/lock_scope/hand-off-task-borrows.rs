// A fn that receives a hand-off runs as a task of its own, which outlives its caller: it may
// not borrow.
use fixpoint::{lock::HandOff, lock_scope};

struct Config;

#[lock_scope(no_unbounded_await)]
async fn serve(permit: HandOff, config: &Config) {
    drop(permit);
    let _ = config;
}

fn main() {}
