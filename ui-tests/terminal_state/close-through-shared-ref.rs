use fixpoint::{terminal_state, Tracked};

pub struct Socket;

impl Socket {
    pub fn send(&self, _bytes: &[u8]) {}
}

#[terminal_state]
pub enum Conn {
    #[initial] #[to(Open, Closed)] Connecting,
    #[to(Closed)]                  Open,
    #[terminal] #[abandoned]       Closed,
}

pub type OpenConn = Tracked<Conn, conn::Open, Socket>;

fn borrower(conn: &OpenConn) {
    conn.send(b"ping");
    let _closed = conn.to_closed();
}

fn main() {}
