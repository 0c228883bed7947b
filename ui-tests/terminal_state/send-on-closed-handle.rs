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

fn main() {
    let open: OpenConn = Tracked::<Conn, _, _>::new(Socket).to_open();
    let closed = open.to_closed();
    closed.send(b"after close");
}
