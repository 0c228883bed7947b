use fixpoint::terminal_state;

#[terminal_state]
fn job() {}

fn main() {}
