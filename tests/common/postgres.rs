//! A throwaway PostgreSQL 15 server for the tests: `initdb` into a temporary directory, started
//! on a free port with `pg_ctl`, stopped and removed when the [`Cluster`] drops, also when a
//! test panics. No mock stands in for the server.
//!
//! Reach it as `crate::common::postgres`; the benches include the file with `#[path]`.
//!
//! The server refuses to run as root: as root (CI, the dev boxes), every server binary runs as
//! the `postgres` user through `runuser`; as another user, as that user. The binaries are looked
//! for in `FIXPOINT_PG_BIN`, else `/usr/lib/postgresql/15/bin`; when they are missing, the test
//! fails and says what to install. Authentication is `trust`: the server listens only on the
//! addresses a test names (loopback by default), and lives as long as the test.
//!
//! A watchdog (a detached shell, as the server's user) stops the server and removes its
//! directory once the test process is gone, for the deaths that run no `Drop`: SIGKILL, abort,
//! a timeout, and clusters kept in a `static` (see [`Cluster::shared`]).
#![allow(dead_code)] // each test file uses the helpers it needs

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The database every cluster creates; [`Cluster::url`] connects to it.
pub const DATABASE: &str = "fixpoint";

/// How to start a [`Cluster`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The addresses the server listens on (its `listen_addresses`): `127.0.0.1` by default.
    /// Every address must exist on the host when the server starts (a test that listens on a
    /// veth address makes the veth pair first).
    pub listen: Vec<String>,
    /// Whether commits are flushed to disk (`fsync`, `synchronous_commit`). Off by default: the
    /// tests prove logic, not durability, and run faster on a loaded box. The benches turn it
    /// on, so that an autocommit statement pays what it pays in production.
    pub durable: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: vec!["127.0.0.1".into()],
            durable: false,
        }
    }
}

/// A running PostgreSQL server on its own data directory and port.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    /// The temporary directory, owned by the server's user: `data/`, `log`.
    dir: PathBuf,
    port: u16,
    listen: Vec<String>,
    as_postgres: bool,
}

impl Cluster {
    /// Starts a fresh server listening on `127.0.0.1`, with the database [`DATABASE`].
    ///
    /// # Panics
    ///
    /// When the binaries are missing (the message says what to install) or the server does not
    /// start (the message holds its log).
    pub fn start() -> Cluster {
        Cluster::start_with(Options::default())
    }

    /// Starts a fresh server as `options` say.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub fn start_with(options: Options) -> Cluster {
        let bin = binaries();
        let as_postgres = running_as_root();
        let dir = make_dir(as_postgres);
        let mut cluster = Cluster {
            bin,
            dir,
            port: 0,
            listen: options.listen.clone(),
            as_postgres,
        };
        cluster.watch_parent();
        cluster.init(&options);
        // The port is free when chosen and taken by the server a moment later; another process
        // may take it in between, so a failed start tries another.
        for attempt in 1..=5 {
            cluster.port = free_port();
            cluster.configure_port();
            match cluster.try_start() {
                Ok(()) => break,
                Err(log) if attempt == 5 => panic!("postgres did not start; its log:\n{log}"),
                Err(_) => continue,
            }
        }
        cluster.create_database(DATABASE);
        cluster
    }

    /// One server shared by every test of the process, started by the first caller. It is
    /// stopped by its watchdog when the process exits (a `static` is never dropped). Give each
    /// test its own database ([`create_database`](Self::create_database)).
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    /// A libpq-style connection string to [`DATABASE`] on the first listen address, for
    /// `tokio_postgres::connect` or `Config::from_str`.
    pub fn url(&self) -> String {
        self.url_for(&self.listen[0], DATABASE)
    }

    /// A connection string to `database` through `host` (one of the listen addresses).
    pub fn url_for(&self, host: &str, database: &str) -> String {
        format!(
            "host={host} port={} user=postgres dbname={database} connect_timeout=10",
            self.port
        )
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates database `name` (a plain identifier) and returns a connection string to it.
    ///
    /// # Panics
    ///
    /// When `createdb` fails (the message holds its output).
    pub fn create_database(&self, name: &str) -> String {
        let host = &self.listen[0];
        let port = self.port.to_string();
        self.run(
            "createdb",
            &["-h", host, "-p", &port, "-U", "postgres", name],
        )
        .unwrap_or_else(|error| panic!("createdb {name}: {error}"));
        self.url_for(host, name)
    }

    /// Stops the server (`pg_ctl -m fast`: clients are disconnected, as at a planned restart),
    /// keeping its data directory and port for [`start_again`](Self::start_again).
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails.
    pub fn stop(&self) {
        self.pg_ctl_stop("fast")
            .unwrap_or_else(|error| panic!("pg_ctl stop: {error}"));
    }

    /// Stops the server at once, as a crash would (`pg_ctl -m immediate`: no checkpoint,
    /// clients cut); [`start_again`](Self::start_again) recovers it.
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails.
    pub fn crash(&self) {
        self.pg_ctl_stop("immediate")
            .unwrap_or_else(|error| panic!("pg_ctl stop: {error}"));
    }

    /// Starts the stopped server again, on the same port and data directory.
    ///
    /// # Panics
    ///
    /// When the server does not start (the message holds its log).
    pub fn start_again(&self) {
        if let Err(log) = self.try_start() {
            panic!("postgres did not start again; its log:\n{log}");
        }
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// Whether the server accepts connections now (`pg_isready`).
    pub fn is_ready(&self) -> bool {
        let port = self.port.to_string();
        self.run(
            "pg_isready",
            &["-h", &self.listen[0], "-p", &port, "-t", "5"],
        )
        .is_ok()
    }

    /// The temporary directory that holds the data directory and the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn init(&self, options: &Options) {
        let data = self.data();
        self.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
        )
        .unwrap_or_else(|error| panic!("initdb: {error}"));
        let listen = options.listen.join(",");
        let flush = if options.durable { "on" } else { "off" };
        // The socket directory is off: tests connect over TCP, and the default directory may
        // not exist or be writable here.
        let conf = format!(
            "listen_addresses = '{listen}'\nunix_socket_directories = ''\n\
             max_connections = 300\nfsync = {flush}\nsynchronous_commit = {flush}\n\
             full_page_writes = {flush}\n"
        );
        self.append(&Path::new(&data).join("postgresql.conf"), &conf);
        // Any client that reaches a listen address may connect: the addresses are loopback or
        // made by the test itself.
        self.append(
            &Path::new(&data).join("pg_hba.conf"),
            "host all all 0.0.0.0/0 trust\n",
        );
    }

    fn configure_port(&self) {
        // Later lines win in postgresql.conf, so each attempt appends its port.
        let conf = Path::new(&self.data()).join("postgresql.conf");
        self.append(&conf, &format!("port = {}\n", self.port));
    }

    fn append(&self, file: &Path, text: &str) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        file.write_all(text.as_bytes()).unwrap();
    }

    fn try_start(&self) -> Result<(), String> {
        let data = self.data();
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-t", "120", "start"],
        )
        .map(drop)
        .map_err(|error| format!("{error}\n{}", self.log()))
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", &data, "-m", mode, "-w", "-t", "120", "stop"],
        )
        .map(drop)
    }

    /// Stops the server and removes its directory once this process is gone, if `Drop` has not.
    fn watch_parent(&self) {
        let script = format!(
            "while [ -d /proc/{pid} ] && [ -d '{dir}' ]; do sleep 1; done; \
             [ -d '{dir}' ] || exit 0; \
             '{pg_ctl}' -D '{dir}/data' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = self.dir.display(),
            pg_ctl = self.bin.join("pg_ctl").display(),
        );
        // Its own session, so a ^C to the test's process group does not take it down first;
        // forked (`-f`), so that what this process spawned returns at once and is reaped here.
        let mut command = self.command("setsid");
        command
            .args(["-f", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = command
            .status()
            .unwrap_or_else(|error| panic!("spawn the cluster's watchdog: {error}"));
        assert!(
            started.success(),
            "the cluster's watchdog did not start: {started}"
        );
    }

    /// `program` (a server binary, or a plain command) as the server's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let program = if path.exists() {
            path.display().to_string()
        } else {
            program.to_owned()
        };
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("could not run {program}: {error}"))?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(format!(
                "{program} {args:?} failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Never panic here: a test may already be unwinding.
        let _ = self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binaries() -> PathBuf {
    let bin = std::env::var_os("FIXPOINT_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
    let missing: Vec<_> = ["initdb", "pg_ctl", "postgres", "createdb", "pg_isready"]
        .into_iter()
        .filter(|program| !bin.join(program).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "the PostgreSQL 15 server binaries {missing:?} are not in {}: these tests start a real \
         server. Install them with `apt-get update && apt-get install -y postgresql-15` \
         (Debian/Ubuntu), or point FIXPOINT_PG_BIN at the directory that holds initdb and pg_ctl",
        bin.display()
    );
    bin
}

fn running_as_root() -> bool {
    let uid = std::fs::metadata("/proc/self")
        .map(|meta| meta.uid())
        .unwrap_or(u32::MAX);
    if uid == 0 && Command::new("runuser").arg("--help").output().is_err() {
        panic!(
            "running as root, the tests start postgres as the `postgres` user through `runuser`, \
             which is missing: install util-linux (`apt-get install -y util-linux`)"
        );
    }
    uid == 0
}

fn make_dir(as_postgres: bool) -> PathBuf {
    // As root the server's user makes the directory, where it may write: `/tmp`, not a
    // `TMPDIR` that may be root's own.
    let base = if as_postgres {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let template = base.join("fixpoint-pg-XXXXXX");
    let mut command = if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", "mktemp"]);
        command
    } else {
        Command::new("mktemp")
    };
    let output = command
        .arg("-d")
        .arg(&template)
        .output()
        .unwrap_or_else(|error| panic!("mktemp: {error}"));
    assert!(
        output.status.success(),
        "mktemp -d {} as the server's user failed: {}; the `postgres` user must exist (it comes \
         with `apt-get install -y postgresql-15`)",
        template.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind a loopback port")
}

/// Polls `check` until it holds or `limit` passes; whether it held.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}
