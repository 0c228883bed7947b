//! The throwaway server the Postgres tests run against: it starts, restarts on the same port and
//! data, and is gone (stopped, directory removed) after its test, also when the test panics.

use crate::common::postgres;

use postgres::{Cluster, Options};

#[test]
fn starts_restarts_and_is_removed_on_drop() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::start();
    assert!(cluster.is_ready(), "{}", cluster.log());
    let (dir, port) = (cluster.dir().to_owned(), cluster.port());
    assert!(cluster.url().contains(&format!("port={port}")));
    cluster.restart();
    assert!(cluster.is_ready(), "{}", cluster.log());
    cluster.crash();
    assert!(!cluster.is_ready(), "a crashed server answers nobody");
    cluster.start_again();
    assert_eq!(cluster.port(), port, "the same port after a restart");
    assert!(cluster.is_ready(), "{}", cluster.log());
    cluster.create_database("second");
    drop(cluster);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens on {port}"
    );
}

#[test]
fn a_panicking_test_stops_its_server() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let (sender, receiver) = std::sync::mpsc::channel();
    let test = std::thread::spawn(move || {
        let cluster = Cluster::start_with(Options::default());
        sender
            .send((cluster.dir().to_owned(), cluster.port()))
            .unwrap();
        panic!("injected panic");
    });
    assert!(test.join().is_err());
    let (dir, port) = receiver.recv().unwrap();
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens on {port}"
    );
}

/// A test process that dies without unwinding (SIGKILL, abort, a timeout) leaves no server:
/// the watchdog stops it and removes its directory.
#[test]
fn a_killed_test_process_leaves_no_server() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    if std::env::var_os("FIXPOINT_PG_ABORT_CHILD").is_some() {
        let cluster = Cluster::start();
        println!("{} {}", cluster.dir().display(), cluster.port());
        std::process::abort();
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &crate::common::test_name(module_path!(), "a_killed_test_process_leaves_no_server"),
            "--nocapture",
        ])
        .env("FIXPOINT_PG_ABORT_CHILD", "1")
        .output()
        .unwrap();
    assert!(!output.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with('/'))
        .unwrap_or_else(|| panic!("the child printed no cluster: {stdout}"));
    let (dir, port) = line.split_once(' ').unwrap();
    let (dir, port) = (std::path::PathBuf::from(dir), port.parse::<u16>().unwrap());
    let gone = postgres::eventually(std::time::Duration::from_secs(60), || {
        !dir.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    assert!(
        gone,
        "the aborted child's server at {} still runs",
        dir.display()
    );
}
