//! Handles that only their owner can close, and a pool that sees every lost one.
//!
//! The bug: connections were handed around by reference and by `Arc`, everyone could call
//! `close()`, so nobody did; handles dropped on error paths were never returned, and the pool
//! ran dry. Here the handle's lifecycle is `Connecting -> Open -> Closed`: shared holders can
//! send but not close, the owner must close, and a dropped open handle is recorded as
//! abandoned, so the pool both frees the slot and names the leak.
//!
//! Run it with `cargo run --example handle_lifecycle`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fixpoint::{Event, EventKind, Recorded, Terminal, Tracked, View, terminal_state};

/// A connection's lifecycle.
#[terminal_state]
pub enum Conn {
    /// Handshake in progress.
    #[initial]
    #[to(Open, Closed)]
    Connecting,
    /// Usable.
    #[to(Closed)]
    Open,
    /// Closed by its owner, or recorded when the owner dropped it.
    #[terminal]
    #[abandoned]
    Closed,
}

/// The resource a handle wraps.
pub struct Socket {
    peer: String,
    sent: AtomicUsize,
}

impl Socket {
    /// Sends through a shared reference: any holder may do this.
    pub fn send(&self, bytes: &[u8]) {
        self.sent.fetch_add(bytes.len(), Ordering::Relaxed);
    }
}

/// A pool that learns of every close and every abandonment through its recorder.
#[derive(Default)]
pub struct Pool {
    open: AtomicUsize,
    leaks: Mutex<Vec<String>>,
}

impl fixpoint::Recorder<Conn> for Pool {
    fn record(&self, event: Event<Conn>) {
        match (event.kind, event.to.name()) {
            (EventKind::Transition, "Open") => {
                self.open.fetch_add(1, Ordering::Relaxed);
            }
            (EventKind::Transition, "Closed") if event.from.name() == "Open" => {
                self.open.fetch_sub(1, Ordering::Relaxed);
            }
            (EventKind::Abandoned(_), _) => {
                if event.from.name() == "Open" {
                    self.open.fetch_sub(1, Ordering::Relaxed);
                }
                self.leaks.lock().unwrap().push(event.to_string());
            }
            _ => {}
        }
    }
}

/// An open connection, owned.
pub type OpenConn = Tracked<Conn, conn::Open, Socket, Recorded<Arc<Pool>>>;

fn connect(pool: &Arc<Pool>, peer: &str) -> OpenConn {
    let socket = Socket {
        peer: peer.to_owned(),
        sent: AtomicUsize::new(0),
    };
    Tracked::<Conn, _, _>::new(socket)
        .with_recorder(Arc::clone(pool))
        .to_open()
}

/// Borrowers get a view: they can send, never close.
fn report_progress(conn: View<'_, Conn, conn::Open, Socket, Recorded<Arc<Pool>>>) {
    conn.send(b"progress: 50%");
}

fn handler_that_fails(conn: OpenConn) -> Result<Terminal<Conn, Socket>, String> {
    conn.send(b"request");
    Err("peer sent garbage".into()) // `conn` is dropped here without a close
}

fn main() {
    let pool = Arc::new(Pool::default());

    let owner = connect(&pool, "db-primary");
    report_progress(Tracked::view(&owner));
    let shared = Arc::new(owner);
    let senders: Vec<_> = (0..3)
        .map(|i| {
            let conn = Arc::clone(&shared);
            std::thread::spawn(move || conn.send(format!("row {i}").as_bytes()))
        })
        .collect();
    senders.into_iter().for_each(|s| s.join().unwrap());
    println!("3 threads sent through an Arc; none of them could have closed it");
    println!("open connections: {}", pool.open.load(Ordering::Relaxed));

    let owner = Arc::into_inner(shared).expect("threads are done; the owner is back");
    let closed = owner.to_closed();
    let socket = closed.into_value();
    println!(
        "the owner closed {} after {} bytes; open connections: {}",
        socket.peer,
        socket.sent.load(Ordering::Relaxed),
        pool.open.load(Ordering::Relaxed)
    );

    let lost = handler_that_fails(connect(&pool, "db-replica"));
    println!("\na handler failed: {}", lost.err().unwrap_or_default());
    println!("open connections: {}", pool.open.load(Ordering::Relaxed));
    for leak in pool.leaks.lock().unwrap().iter() {
        println!("the pool names the lost handle: {leak}");
    }
    println!(
        "\nWhat does not compile (ui-tests/terminal_state/close-through-*.rs, send-on-closed-handle.rs):"
    );
    println!("  closing through &OpenConn or Arc<OpenConn> -> error[E0507]: cannot move out");
    println!("  closing through a View -> error[E0599]: no method named `to_closed`");
    println!("  sending on a Terminal (closed) handle -> error[E0599]: no method named `send`");
}
