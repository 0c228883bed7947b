//! What the integration tests share: the sample lifecycles (`job`, `project`, `rollouts`),
//! a throwaway PostgreSQL server (`postgres`), a tracing capture, the fault matrix's table,
//! the examples' runner, and small helpers. Each capability's binary declares it once.
#![allow(dead_code)] // each test file uses the helpers it needs

/// A tiny deterministic generator, so a failing seed can be replayed.
pub struct XorShift(pub u64);

impl XorShift {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The name the test harness knows `test` by, in the module whose `module_path!()` is given:
/// `sqlite_store::a_sigkill_after_flush_loses_nothing` for a test of `tests/store/sqlite_store.rs`.
/// For a test that runs one of its own tests in a child process, with `--exact`.
pub fn test_name(module_path: &str, test: &str) -> String {
    match module_path.split_once("::") {
        Some((_binary, module)) => format!("{module}::{test}"),
        None => test.to_owned(),
    }
}

/// Keeps the expected `"injected panic"`s out of the test output; any other panic still
/// prints.
pub fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"injected panic") {
            default(info);
        }
    }));
}

/// The `StatusStore` methods a test store passes through to `self.inner` unchanged (all but
/// `apply`, which each such store changes): `impl StatusStore<L> for Wrapper { async fn apply
/// .. ; common::pass_through!(L); }`.
macro_rules! pass_through {
    ($lifecycle:ty) => {
        async fn insert(&self, id: &str, owner: &str) -> Result<(), fixpoint::store::StoreError> {
            self.inner.insert(id, owner).await
        }

        async fn renew_lease(
            &self,
            owner: &str,
            ttl: std::time::Duration,
        ) -> Result<(), fixpoint::store::StoreError> {
            self.inner.renew_lease(owner, ttl).await
        }

        async fn release_lease(&self, owner: &str) -> Result<(), fixpoint::store::StoreError> {
            self.inner.release_lease(owner).await
        }

        async fn reap_leases(
            &self,
            grace: std::time::Duration,
        ) -> Result<u64, fixpoint::store::StoreError> {
            self.inner.reap_leases(grace).await
        }

        async fn orphans(&self) -> Result<Vec<fixpoint::store::Row>, fixpoint::store::StoreError> {
            self.inner.orphans().await
        }

        async fn adopt(
            &self,
            id: &str,
            from_owner: &str,
            status: fixpoint::State<$lifecycle>,
            to_owner: &str,
        ) -> Result<bool, fixpoint::store::StoreError> {
            self.inner.adopt(id, from_owner, status, to_owner).await
        }

        async fn prune(
            &self,
            retention: fixpoint::store::Retention,
        ) -> Result<u64, fixpoint::store::StoreError> {
            self.inner.prune(retention).await
        }

        async fn rows(&self) -> Result<Vec<fixpoint::store::Row>, fixpoint::store::StoreError> {
            self.inner.rows().await
        }
    };
}
pub(crate) use pass_through;

#[cfg(feature = "tracing")]
pub mod capture;
pub mod example;
#[cfg(feature = "tokio")]
mod flaky;
pub mod job;
#[cfg(feature = "tokio")]
mod logged;
pub mod matrix;
pub mod postgres;
pub mod project;
pub mod rollouts;
mod scratch;
#[cfg(feature = "tokio")]
#[allow(unused_imports)] // each test file uses the helpers it needs
pub use flaky::Flaky;
#[cfg(feature = "tokio")]
#[allow(unused_imports)]
pub use logged::Logged;
#[allow(unused_imports)]
pub use scratch::{remove_db, scratch_db};

/// The time limit of a test that sets none of its own (see [`time_limit`]): far past the
/// slowest honest run, a cold build of a trybuild case or of a sub-crate on a 2-core CI
/// included; a wait that never ends still fails instead of hanging CI.
pub const TEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(900);

/// Fails the running test if it is still running after `limit`: a broken guarantee that would
/// leave a wait unanswered fails the test run instead of hanging CI. A test thread cannot be
/// stopped from outside, so the whole test process ends (exit code 124, as `timeout` uses),
/// after saying which test ran past which limit. Hold the guard for the test's whole body.
#[track_caller]
#[must_use = "the limit holds while the guard lives"]
pub fn time_limit(limit: std::time::Duration) -> TimeLimit {
    use std::sync::{Arc, Condvar, Mutex};
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let set_at = std::panic::Location::caller();
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let watched = Arc::clone(&done);
    std::thread::spawn(move || {
        let (finished, wake) = &*watched;
        let finished = finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (finished, _) = wake
            .wait_timeout_while(finished, limit, |finished| !*finished)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*finished {
            eprintln!("test {test} ran past its limit of {limit:?} (set at {set_at}): stopping");
            std::process::exit(124);
        }
    });
    TimeLimit(done)
}

/// The guard of [`time_limit`]: the test is done when it drops (returning or panicking).
pub struct TimeLimit(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Drop for TimeLimit {
    fn drop(&mut self) {
        let (finished, wake) = &*self.0;
        *finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        wake.notify_one();
    }
}
