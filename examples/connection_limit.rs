//! A tokio TCP server with a connection limit, ported to `#[lock_scope]`.
//!
//! The listener is the shape of tokio's own example servers: a slot is taken before `accept`,
//! and moves into the connection's task, which gives it back when the client leaves. In tokio:
//!
//! ```text
//! loop {
//!     let permit = limit.clone().acquire_owned().await.unwrap();
//!     let (socket, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         echo(socket).await;
//!         drop(permit);
//!     });
//! }
//! ```
//!
//! The port keeps the behaviour and says what each wait under the slot is: the accept and the
//! connection's reads are declared unbounded on purpose (a slot is a connection's for as long
//! as it is open), a write is bounded, and the connection's task is a checked fn that receives
//! the slot as a `HandOff`. At the limit the listener stops accepting: the next client waits in
//! the kernel's backlog, and is served as soon as one leaves.
//!
//! Run it with `cargo run --example connection_limit`: it serves 250 clients at once, shows the
//! 251st waiting, lets one client go, and shows the 251st served.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use fixpoint::lock::{HandOff, Semaphore, allow_unbounded, bounded};
use fixpoint::lock_scope;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The most connections served at once.
pub const LIMIT: usize = 250;

/// How long a reply may take to write before the connection is dropped.
const WRITE_LIMIT: Duration = Duration::from_secs(5);

/// Accepts connections for ever, each served by its own task, at most `limit.permits()` at once.
#[lock_scope(no_unbounded_await)]
pub async fn run(listener: TcpListener, limit: Semaphore) -> io::Result<()> {
    loop {
        let permit = limit.acquire(&lock_scope).await;
        // Awaited where it is made: the attribute reads the wait's kind from the `.await`.
        let (socket, _) = allow_unbounded(
            "the slot is reserved for the next client: at the limit, nobody is accepted",
            listener.accept(),
        )
        .await?;
        permit.spawn(move |permit| serve(permit, socket));
    }
}

/// One connection: echoes each line back, upper-cased, until the client leaves. The slot is the
/// connection's while it is open.
#[lock_scope(no_unbounded_await)]
async fn serve(permit: HandOff, mut socket: TcpStream) {
    let (reader, mut writer) = socket.split();
    let mut lines = BufReader::new(reader).lines();
    loop {
        let next = allow_unbounded(
            "an open connection keeps its slot while the client thinks",
            lines.next_line(),
        )
        .await;
        let Ok(Some(line)) = next else { break };
        let reply = format!("{}\n", line.to_uppercase());
        match bounded(WRITE_LIMIT, writer.write_all(reply.as_bytes())).await {
            Ok(Ok(())) => {}
            _ => break, // a client that does not read its replies loses its slot
        }
    }
    drop(permit);
}

/// A client: connects, and asks one line.
pub struct Client {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    /// Connects to `address`. The connection is made by the kernel even at the limit: the
    /// server has not accepted it yet.
    pub async fn connect(address: SocketAddr) -> io::Result<Client> {
        let (reader, writer) = TcpStream::connect(address).await?.into_split();
        Ok(Client {
            lines: BufReader::new(reader).lines(),
            writer,
        })
    }

    /// Sends `line`.
    pub async fn send(&mut self, line: &str) -> io::Result<()> {
        self.writer.write_all(format!("{line}\n").as_bytes()).await
    }

    /// The next reply, or `None` when the server closed the connection.
    pub async fn reply(&mut self) -> io::Result<Option<String>> {
        self.lines.next_line().await
    }
}

#[allow(
    dead_code,
    reason = "the tests include this file for `run` and `Client`"
)]
#[tokio::main]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let limit = Semaphore::new("connections", LIMIT);
    let server = tokio::spawn(run(listener, limit.clone()));
    println!("connection limit: {LIMIT}, on {address}");

    let mut clients = Vec::with_capacity(LIMIT);
    for n in 0..LIMIT {
        let mut client = Client::connect(address).await?;
        client.send(&format!("hello from {n}")).await?;
        clients.push(client);
    }
    for client in &mut clients {
        client.reply().await?;
    }
    println!(
        "{} clients served at once; permits in flight: {}",
        clients.len(),
        limit.gauges().in_flight
    );

    let mut last = Client::connect(address).await?;
    last.send("hello from the last").await?;
    let early = tokio::time::timeout(Duration::from_millis(300), last.reply()).await;
    println!(
        "client {} connected and asked: {}",
        LIMIT + 1,
        if early.is_err() {
            "no reply yet, it waits"
        } else {
            "answered at once (the limit did not hold!)"
        }
    );

    drop(clients.swap_remove(0));
    let reply = tokio::time::timeout(Duration::from_secs(5), last.reply()).await;
    match reply {
        Ok(Ok(Some(reply))) => println!("one client left; client {} served: {reply:?}", LIMIT + 1),
        other => println!("client {} was not served: {other:?}", LIMIT + 1),
    }
    server.abort();
    Ok(())
}
