use std::sync::Arc;

use fixpoint::{terminal_state, Terminal, Tracked, View};

pub struct Socket {
    pub peer: &'static str,
}

impl Socket {
    pub fn send(&self, bytes: &[u8]) -> usize {
        bytes.len()
    }
}

#[terminal_state]
pub enum Conn {
    #[initial] #[to(Open, Closed)] Connecting,
    #[to(Closed)]                  Open,
    #[terminal] #[abandoned]       Closed,
}

pub type OpenConn = Tracked<Conn, conn::Open, Socket>;

fn by_ref(conn: &OpenConn) -> usize {
    conn.send(b"by ref")
}

fn by_view(conn: View<'_, Conn, conn::Open, Socket>) -> &'static str {
    assert_eq!(View::state(&conn).name(), "Open");
    conn.send(b"by view");
    conn.peer
}

fn main() {
    let owner: OpenConn = Tracked::<Conn, _, _>::new(Socket { peer: "db" }).to_open();
    assert_eq!(by_ref(&owner), 6);
    assert_eq!(by_view(Tracked::view(&owner)), "db");
    let shared = Arc::new(owner);
    assert_eq!(shared.send(b"via arc"), 7);
    let owner = Arc::try_unwrap(shared).ok().expect("sole owner again");
    let closed: Terminal<Conn, Socket> = owner.to_closed();
    assert_eq!(closed.state().name(), "Closed");
}
