//! A fleet across hosts on one PostgreSQL table: three supervisor processes, each in a network
//! namespace of its own (a veth pair and `10.77.x.y` addresses made here), share a server on
//! the host side. One is killed with SIGKILL mid-flight; another's link is cut while it keeps
//! running, so its lease lapses. The survivor reconciles: every row ends terminal, no row is
//! adopted twice, and the cut-off process's writes, sent once its rows were adopted, are refused
//! (fencing) — all read from the table.
//!
//! Where network namespaces cannot be made (no root, no `ip`), the test fails and says why: a
//! pass always means the fleet ran across hosts. `FIXPOINT_FLEET_ONE_HOST=1` runs the same
//! scenario as processes on one host instead, with SIGSTOP in place of the cut link, for
//! machines that cannot make namespaces; the test then says so on stderr.
#![cfg(feature = "postgres")]

use crate::common::postgres as cluster;
use crate::common::project;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use cluster::{Cluster, DATABASE, Options};
use fixpoint::{
    State,
    store::{PostgresStore, Refused, Retention, Row, RowWrite, StatusStore, StoreError},
    task::{Config, Supervisor},
};
use project::*;

/// Set in a member process: `name|url|dir`.
const MEMBER: &str = "FIXPOINT_FLEET_MEMBER";
const MEMBERS: [&str; 3] = ["a", "b", "c"];
const TASKS: usize = 12;
/// The reason odd tasks fail with.
const GAVE_UP: &str = "gave up after the release";
/// Short, so the test is quick, yet long enough that the survivor's own lease never lapses on a
/// loaded box; the heartbeat renews it ten times per lease.
const LEASE: Duration = Duration::from_secs(5);
/// The longest any step may take on a loaded box before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);

/// The member's store: the Postgres store, keeping each write it refused so that the member
/// can print them (a task that had already returned when its last write was refused reports
/// how it returned; the refusal is what shows the write was sent and fenced).
struct Witness {
    store: PostgresStore<ProjectStatus>,
    refused: Mutex<Vec<(String, StoreError)>>,
}

impl StatusStore<ProjectStatus> for Witness {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self.store.insert(id, owner).await
    }

    async fn apply(
        &self,
        owner: &str,
        writes: &[RowWrite<ProjectStatus>],
    ) -> Result<Refused, StoreError> {
        let refused = self.store.apply(owner, writes).await?;
        let mut kept = self.refused.lock().unwrap();
        kept.extend(
            refused
                .iter()
                .map(|(index, error)| (writes[*index].id().to_owned(), error.clone())),
        );
        Ok(refused)
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        self.store.renew_lease(owner, ttl).await
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        self.store.release_lease(owner).await
    }

    async fn reap_leases(&self, grace: Duration) -> Result<u64, StoreError> {
        self.store.reap_leases(grace).await
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        self.store.orphans().await
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<ProjectStatus>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        self.store.adopt(id, from_owner, status, to_owner).await
    }

    async fn prune(&self, retention: Retention) -> Result<u64, StoreError> {
        self.store.prune(retention).await
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        self.store.rows().await
    }
}

/// A member of the fleet: supervised tasks that wait at `Running` until `release-<name>`
/// exists, and a reconcile loop that abandons whatever orphans it adopts, until `stop-<name>`.
async fn member(name: &str, url: &str, dir: &Path) {
    let store = PostgresStore::<ProjectStatus>::connect(url)
        .await
        .expect("connect to the fleet's server");
    let config = Config::new()
        .lease_ttl(LEASE)
        .heartbeat(LEASE / 10)
        .retention(Retention::keep_all());
    let store = Witness {
        store,
        refused: Mutex::default(),
    };
    let mut supervisor = Supervisor::start(store, config).await.expect("start");
    let release = dir.join(format!("release-{name}"));
    for task in 0..TASKS {
        let release = release.clone();
        supervisor
            .spawn(format!("{name}-{task:02}"), (), move |row| async move {
                let running = row.to_running();
                while !release.exists() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                // Odd tasks fail with a reason: a reason is written with no status to compare,
                // so only the owner check keeps a cut-off member's from landing.
                if task % 2 == 1 {
                    return Err(GAVE_UP);
                }
                Ok(running.to_completed())
            })
            .await
            .expect("spawn");
    }
    wait_until_running(&supervisor, name).await;
    println!("ready {}", supervisor.owner());
    let stop = dir.join(format!("stop-{name}"));
    while !stop.exists() {
        // Cut off, this fails (the connection is gone): the loop goes on until it is back.
        if let Err(error) = supervisor
            .reconcile(|_| None::<std::future::Ready<fixpoint::Terminal<ProjectStatus, ()>>>)
            .await
        {
            eprintln!("{name}: reconcile: {error}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while supervisor.join_next().await.is_some() {}
    supervisor
        .flush()
        .await
        .expect("the store answers every write");
    for (id, error) in supervisor.store().refused.lock().unwrap().iter() {
        println!("refused {id} {error:?}");
    }
    println!("done");
}

/// Waits until every task of this member is `Running` in the table.
async fn wait_until_running(supervisor: &Supervisor<ProjectStatus, Witness>, name: &str) {
    loop {
        supervisor
            .flush()
            .await
            .expect("the store applies every write");
        let rows = supervisor.store().rows().await.expect("rows");
        let running = rows
            .iter()
            .filter(|row| row.id.starts_with(&format!("{name}-")) && row.status == "Running")
            .count();
        if running == TASKS {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where the members run: a network namespace each, or this host.
enum Network {
    Namespaces(Vec<Namespace>),
    OneHost,
}

/// A namespace joined to the host by a veth pair: `host` on the host side, `inside` in it.
struct Namespace {
    name: String,
    host_link: String,
    inner_link: String,
    host: String,
}

impl Network {
    /// A namespace per member, or [`Network::OneHost`] when `FIXPOINT_FLEET_ONE_HOST` asks for
    /// it. Fails with the evidence when a namespace cannot be made.
    fn make() -> Network {
        if std::env::var_os("FIXPOINT_FLEET_ONE_HOST").is_some() {
            eprintln!("FIXPOINT_FLEET_ONE_HOST is set: the fleet runs as processes on one host");
            return Network::OneHost;
        }
        let pid = std::process::id();
        let subnet = 20 + pid % 200;
        let mut made = Vec::new();
        for (index, member) in MEMBERS.iter().enumerate() {
            let base = 4 * index as u32;
            let namespace = Namespace {
                name: format!("fixpoint-{pid}-{member}"),
                host_link: format!("fp{pid}{member}h"),
                inner_link: format!("fp{pid}{member}n"),
                host: format!("10.77.{subnet}.{}", base + 1),
            };
            let inside = format!("10.77.{subnet}.{}", base + 2);
            match namespace.set_up(&inside) {
                Ok(()) => made.push(namespace),
                Err(evidence) => {
                    drop(namespace);
                    drop(made);
                    panic!(
                        "the network namespace of member {member} cannot be made here \
                         ({evidence}): the fleet cannot run across hosts. Run as root with \
                         `ip` (iproute2), or set FIXPOINT_FLEET_ONE_HOST=1 to run it as \
                         processes on one host, with SIGSTOP in place of a cut link"
                    );
                }
            }
        }
        Network::Namespaces(made)
    }

    /// The addresses the server listens on: loopback, and the host side of each veth.
    fn listen(&self) -> Vec<String> {
        let mut listen = vec!["127.0.0.1".to_owned()];
        if let Network::Namespaces(namespaces) = self {
            listen.extend(namespaces.iter().map(|namespace| namespace.host.clone()));
        }
        listen
    }

    /// The command that runs member `index`, and the server's address as it reaches it.
    fn command(&self, index: usize) -> (Command, String) {
        let test = std::env::current_exe().unwrap();
        match self {
            Network::Namespaces(namespaces) => {
                let namespace = &namespaces[index];
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &namespace.name]).arg(test);
                (command, namespace.host.clone())
            }
            Network::OneHost => (Command::new(test), "127.0.0.1".to_owned()),
        }
    }

    /// Cuts member `index` off the server while it keeps running: its link goes down, or
    /// (on one host) the process is stopped.
    fn cut(&self, index: usize, member: &Child) {
        match self {
            Network::Namespaces(namespaces) => namespaces[index].link("down"),
            Network::OneHost => signal("STOP", member),
        }
    }

    fn restore(&self, index: usize, member: &Child) {
        match self {
            Network::Namespaces(namespaces) => namespaces[index].link("up"),
            Network::OneHost => signal("CONT", member),
        }
    }
}

impl Namespace {
    fn set_up(&self, inside: &str) -> Result<(), String> {
        let prefix = |address: &str| format!("{address}/30");
        ip(&["netns", "add", &self.name])?;
        ip(&[
            "link",
            "add",
            &self.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &self.inner_link,
            "netns",
            &self.name,
        ])?;
        ip(&["addr", "add", &prefix(&self.host), "dev", &self.host_link])?;
        ip(&["link", "set", &self.host_link, "up"])?;
        ip(&[
            "-n",
            &self.name,
            "addr",
            "add",
            &prefix(inside),
            "dev",
            &self.inner_link,
        ])?;
        ip(&["-n", &self.name, "link", "set", &self.inner_link, "up"])?;
        ip(&["-n", &self.name, "link", "set", "lo", "up"])
    }

    fn link(&self, state: &str) {
        ip(&["-n", &self.name, "link", "set", &self.inner_link, state])
            .unwrap_or_else(|error| panic!("{error}"));
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair, both ends.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_link]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("`ip {}`: {error}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn signal(name: &str, child: &Child) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {}", child.id());
}

/// A member process, its stdout read line by line on a thread of its own.
struct Member {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Member {
    fn spawn(index: usize, network: &Network, cluster: &Cluster, dir: &Path) -> Member {
        let name = MEMBERS[index];
        let (mut command, host) = network.command(index);
        // A cut link fails a request within seconds rather than after TCP's retries.
        let url = format!(
            "{} connect_timeout=2 tcp_user_timeout=2",
            cluster.url_for(&host, DATABASE)
        );
        let stderr = std::fs::File::create(dir.join(format!("{name}.err"))).unwrap();
        let mut child = command
            .args([
                "--exact",
                &crate::common::test_name(module_path!(), "a_fleet_survives_a_kill_and_a_cut_link"),
                "--nocapture",
            ])
            .env(MEMBER, format!("{name}|{url}|{}", dir.display()))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Member {
            name,
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the line that starts with `prefix`, and returns the rest of it.
    fn expect(&mut self, prefix: &str, dir: &Path) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(_) => panic!(
                    "member {} never printed `{prefix}`; it printed {:?}; its stderr:\n{}",
                    self.name,
                    self.seen,
                    std::fs::read_to_string(dir.join(format!("{}.err", self.name)))
                        .unwrap_or_default()
                ),
            }
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn touch(dir: &Path, file: &str) {
    std::fs::write(dir.join(file), b"").unwrap();
}

/// Polls `check` every 100 ms until it holds; fails the test with `what` after [`PATIENCE`].
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Records every change of a row's owner, so that "adopted once" can be read from the table.
async fn audit_owner_changes(store: &PostgresStore<ProjectStatus>) {
    let table = PostgresStore::<ProjectStatus>::table();
    let client = store.pool().get().await.unwrap();
    client
        .batch_execute(&format!(
            "CREATE TABLE fleet_owner_changes (id text, from_owner text, to_owner text);\n\
             CREATE FUNCTION fleet_audit() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             BEGIN\n\
                 IF NEW.owner IS DISTINCT FROM OLD.owner THEN\n\
                     INSERT INTO fleet_owner_changes VALUES (NEW.id, OLD.owner, NEW.owner);\n\
                 END IF;\n\
                 RETURN NEW;\n\
             END $$;\n\
             CREATE TRIGGER fleet_audit AFTER UPDATE ON {table}\n\
                 FOR EACH ROW EXECUTE FUNCTION fleet_audit();"
        ))
        .await
        .unwrap();
}

/// Every owner change: id -> [(from, to)].
async fn owner_changes(
    store: &PostgresStore<ProjectStatus>,
) -> BTreeMap<String, Vec<(String, String)>> {
    let client = store.pool().get().await.unwrap();
    let mut changes: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for row in client
        .query(
            "SELECT id, from_owner, to_owner FROM fleet_owner_changes",
            &[],
        )
        .await
        .unwrap()
    {
        changes
            .entry(row.get::<_, String>(0))
            .or_default()
            .push((row.get(1), row.get(2)));
    }
    changes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_survives_a_kill_and_a_cut_link() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    if let Ok(spec) = std::env::var(MEMBER) {
        let mut parts = spec.splitn(3, '|');
        let (name, url, dir) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        member(name, url, Path::new(dir)).await;
        return;
    }
    let network = Network::make();
    let cluster = Cluster::start_with(Options {
        listen: network.listen(),
        ..Options::default()
    });
    let store = PostgresStore::<ProjectStatus>::connect(&cluster.url())
        .await
        .unwrap();
    audit_owner_changes(&store).await;
    let dir: PathBuf = cluster.dir().join("fleet");
    std::fs::create_dir(&dir).unwrap();
    let dir = dir.as_path();
    let mut members: Vec<Member> = (0..MEMBERS.len())
        .map(|index| Member::spawn(index, &network, &cluster, dir))
        .collect();
    let owners: Vec<String> = members
        .iter_mut()
        .map(|member| member.expect("ready", dir))
        .collect();
    let (killed, cut, survivor) = (&owners[0], &owners[1], &owners[2]);

    // Mid-flight: every task is `Running`. `a` dies; `b` is cut off, and its tasks finish
    // while it is: their writes wait for a server it cannot reach.
    members[0].child.kill().unwrap();
    members[0].child.wait().unwrap();
    network.cut(1, &members[1].child);
    touch(dir, "release-b");

    // Once their leases lapse (on the server's clock), the survivor adopts both members' rows
    // and abandons them.
    let orphaned = |id: &str| id.starts_with("a-") || id.starts_with("b-");
    eventually(
        "the survivor adopted and ended every row of `a` and `b`",
        || async {
            store
                .rows()
                .await
                .unwrap()
                .iter()
                .filter(|row| orphaned(&row.id))
                .all(|row| row.owner == *survivor && row.status == "Failed")
        },
    )
    .await;

    // `b` comes back: its queued writes reach the server now, after its lease is gone.
    network.restore(1, &members[1].child);
    touch(dir, "release-c");
    touch(dir, "stop-b");
    touch(dir, "stop-c");
    let mut refused = BTreeMap::new();
    for member in &mut members[1..] {
        let name = member.name;
        member.expect("done", dir);
        for line in member
            .seen
            .iter()
            .filter_map(|line| line.strip_prefix("refused "))
        {
            let (id, error) = line.split_once(' ').unwrap();
            refused
                .entry((name, id.to_owned()))
                .or_insert_with(Vec::new)
                .push(error.to_owned());
        }
        assert!(
            member.child.wait().unwrap().success(),
            "member {name} failed"
        );
    }

    // From the table: every row terminal; `a`'s and `b`'s adopted once, by the survivor, and
    // ended by it; none of `b`'s late writes applied (fenced).
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len(), MEMBERS.len() * TASKS);
    let changes = owner_changes(&store).await;
    for row in &rows {
        let state = row.state::<ProjectStatus>().unwrap();
        assert!(state.is_terminal(), "{row:?}");
        if orphaned(&row.id) {
            let from = if row.id.starts_with("a-") {
                killed
            } else {
                cut
            };
            assert_eq!(
                changes.get(&row.id),
                Some(&vec![(from.clone(), survivor.clone())]),
                "{} was adopted once, by the survivor",
                row.id
            );
            assert_eq!(
                (row.owner.as_str(), row.status.as_str()),
                (survivor.as_str(), "Failed")
            );
            // Ended by the survivor's reconcile, or by its heartbeat if that came first.
            let by_heartbeat = format!(
                "orphaned: its owner `{from}` stopped renewing its lease; ended by `{survivor}`"
            );
            let reason = row.reason.as_deref();
            assert!(
                reason == Some("orphaned by a stopped supervisor; abandoned at reconcile")
                    || reason == Some(by_heartbeat.as_str()),
                "{} is as the survivor left it: `b`'s late writes were refused; {reason:?}",
                row.id
            );
        } else {
            assert_eq!(changes.get(&row.id), None, "{} stayed its owner's", row.id);
            let task: usize = row.id[2..].parse().unwrap();
            let ended = if task % 2 == 1 {
                ("Failed", Some(GAVE_UP))
            } else {
                ("Completed", None)
            };
            assert_eq!(
                (
                    row.owner.as_str(),
                    (row.status.as_str(), row.reason.as_deref())
                ),
                (survivor.as_str(), ended)
            );
        }
    }
    // And from `b`'s side: each task's last writes reached the server and were refused as the
    // survivor's row (a failed task's reason too, which has no status to compare: only the
    // owner check stops it); nothing else of anyone's was refused.
    let fenced = |id: &str| {
        format!(
            "{:?}",
            StoreError::Fenced {
                id: id.to_owned(),
                owner: survivor.clone()
            }
        )
    };
    let expected: BTreeMap<_, _> = (0..TASKS)
        .map(|task| {
            let id = format!("b-{task:02}");
            let writes = if task % 2 == 1 { 2 } else { 1 };
            (("b", id.clone()), vec![fenced(&id); writes])
        })
        .collect();
    assert_eq!(refused, expected);
}
