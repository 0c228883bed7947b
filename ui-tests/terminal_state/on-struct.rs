use fixpoint::terminal_state;

#[terminal_state]
struct Job {
    status: u8,
}

fn main() {}
