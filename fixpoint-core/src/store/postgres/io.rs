//! The thread the store's connections run on, so that a write reaches the server while every
//! worker of the caller's runtime is blocked.
//!
//! A tokio-postgres connection is two halves: a `Client` that queues requests on a channel,
//! and a `Connection` future that owns the socket and must be polled for any request to move.
//! `deadpool-postgres` spawns that future on whatever runtime asks the pool for a connection,
//! and opens its socket there: with every worker of that runtime blocked in a synchronous
//! call, nothing polls the socket, and the supervisor's writer thread — which needs no worker
//! for anything else — waits with its batch until a worker frees. [`PgIoThread`] opens each
//! connection (socket, handshake, and the future that drives it) on one process-wide thread
//! running a runtime of its own. The `Client` half is runtime-agnostic (channels and wakers),
//! so statements are still awaited where they are issued.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use deadpool_postgres::Connect;
use deadpool_postgres::tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use deadpool_postgres::tokio_postgres::{self, Client, Socket};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// A [`deadpool_postgres::Connect`] that opens each connection on fixpoint's Postgres I/O
/// thread, one per process, instead of on the runtime that asks the pool for a connection.
///
/// [`PostgresStore::connect`](super::PostgresStore::connect) builds its pool with it. Use it
/// for a pool of your own (TLS, another size) given to
/// [`PostgresStore::from_pool`](super::PostgresStore::from_pool), so that the store's writes
/// reach the server while every worker of your runtime is blocked:
///
/// ```no_run
/// use fixpoint::store::PgIoThread;
/// use fixpoint::{store::{deadpool_postgres::Manager, deadpool_postgres::ManagerConfig, deadpool_postgres::Pool}};
/// use fixpoint::store::tokio_postgres::NoTls;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = "host=localhost user=fleet dbname=jobs".parse()?;
/// let connect = PgIoThread::new(NoTls)?;
/// let manager = Manager::from_connect(config, connect, ManagerConfig::default());
/// let pool = Pool::builder(manager).max_size(32).build()?;
/// # drop(pool); Ok(()) }
/// ```
pub struct PgIoThread<T> {
    tls: T,
    io: Handle,
}

impl<T> PgIoThread<T> {
    /// Connects with `tls` (`NoTls`, or a `MakeTlsConnect` of your TLS crate) on the I/O
    /// thread, starting that thread if this process has none yet.
    ///
    /// # Errors
    ///
    /// The operating system's error when the thread or its runtime cannot be created.
    pub fn new(tls: T) -> std::io::Result<Self> {
        Ok(PgIoThread { tls, io: handle()? })
    }
}

impl<T> core::fmt::Debug for PgIoThread<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PgIoThread").finish_non_exhaustive()
    }
}

type Opening<'a> = Pin<
    Box<dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>> + Send + 'a>,
>;

impl<T> Connect for PgIoThread<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(&self, config: &tokio_postgres::Config) -> Opening<'_> {
        let tls = self.tls.clone();
        let config = config.clone();
        let opening = self.io.spawn(async move {
            let (client, connection) = config.connect(tls).await?;
            let driving = tokio::spawn(async move {
                #[allow(clippy::used_underscore_binding)]
                if let Err(_error) = connection.await {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(target: "fixpoint::store", error = %_error, "a Postgres connection ended");
                }
            });
            Ok((client, driving))
        });
        Box::pin(async move {
            match opening.await {
                Ok(opened) => opened,
                // The I/O runtime is never shut down, so the task can only have panicked:
                // carry the panic to the caller, as if the connection had been opened here.
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        })
    }
}

/// The process's I/O runtime, started on first use (and again in a forked child, which
/// inherits the handle but not the thread).
static IO: Mutex<Option<(u32, Handle)>> = Mutex::new(None);

fn handle() -> std::io::Result<Handle> {
    let mut io = IO.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if let Some((started_in, handle)) = &*io
        && *started_in == pid
    {
        return Ok(handle.clone());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("fixpoint-postgres-io".to_owned())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    *io = Some((pid, handle.clone()));
    Ok(handle)
}
