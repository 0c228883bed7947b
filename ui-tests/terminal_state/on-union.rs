use fixpoint::terminal_state;

#[terminal_state]
union Job {
    status: u8,
    code: u32,
}

fn main() {}
