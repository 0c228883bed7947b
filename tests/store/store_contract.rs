//! The store contract: what every `StatusStore` backend promises, checked against each one.
//!
//! A new backend runs the whole contract by adding one line at the bottom of this file:
//! `store_contract!(name, |test_name| make_a_fresh_store(test_name));`.
#![cfg(feature = "sqlite")]

use std::time::Duration;

#[cfg(feature = "postgres")]
use crate::common::postgres as cluster;

use fixpoint::{
    Lifecycle,
    store::{
        MAX_REASON_BYTES, MemoryStore, Retention, Row, RowWrite, SqliteStore, StatusStore,
        StoreError, Transition,
    },
};

use crate::common::job as jobs;
use jobs::*;

fn state(name: &str) -> fixpoint::State<Job> {
    Job::parse_state(name).unwrap()
}

fn step(from: &str, to: &str) -> Transition<Job> {
    Transition::new(state(from), state(to)).unwrap()
}

async fn status<S: StatusStore<Job>>(store: &S, id: &str) -> Option<Row> {
    store
        .rows()
        .await
        .unwrap()
        .into_iter()
        .find(|row| row.id == id)
}

/// A lease that has already run out: `expires_at` is now, and a lease is live only after.
async fn lapse<S: StatusStore<Job>>(store: &S, owner: &str) {
    store.renew_lease(owner, Duration::ZERO).await.unwrap();
}

/// Transitions are compare-and-set on the status: from the state the row is in, and only then.
pub async fn compare_and_set<S: StatusStore<Job>>(store: S) {
    store.insert("t", "me").await.unwrap();
    assert_eq!(status(&store, "t").await.unwrap().status, "Queued");
    assert_eq!(
        store
            .transition("t", "me", state("Running"), state("Done"))
            .await,
        Err(StoreError::Conflict {
            id: "t".into(),
            expected: "Running",
            found: "Queued".into()
        })
    );
    assert_eq!(status(&store, "t").await.unwrap().status, "Queued");
    store
        .transition("t", "me", state("Queued"), state("Running"))
        .await
        .unwrap();
    store
        .transition("t", "me", state("Running"), state("Done"))
        .await
        .unwrap();
    assert_eq!(status(&store, "t").await.unwrap().status, "Done");
}

/// Undeclared edges and moves out of a terminal state never reach the store.
pub async fn undeclared_and_terminal_moves_are_refused<S: StatusStore<Job>>(store: S) {
    store.insert("t", "me").await.unwrap();
    let skip = store
        .transition("t", "me", state("Queued"), state("Done"))
        .await;
    assert!(matches!(skip, Err(StoreError::Illegal(_))), "{skip:?}");
    store
        .transition("t", "me", state("Queued"), state("Failed"))
        .await
        .unwrap();
    for to in ["Queued", "Running", "Done", "Failed"] {
        let out = store
            .transition("t", "me", state("Failed"), state(to))
            .await;
        assert!(
            matches!(out, Err(StoreError::Illegal(_))),
            "Failed -> {to}: {out:?}"
        );
    }
    assert_eq!(status(&store, "t").await.unwrap().status, "Failed");
}

/// An id in use is never overwritten, finished or not.
pub async fn reused_ids_are_refused<S: StatusStore<Job>>(store: S) {
    store.insert("t", "me").await.unwrap();
    assert_eq!(
        store.insert("t", "other").await,
        Err(StoreError::IdTaken {
            id: "t".into(),
            status: "Queued".into()
        })
    );
    assert_eq!(
        store.insert_shared(&"t".into(), &"other".into()).await,
        Err(StoreError::IdTaken {
            id: "t".into(),
            status: "Queued".into()
        }),
        "the shared form refuses alike"
    );
    store
        .insert_shared(&"u".into(), &"me".into())
        .await
        .unwrap();
    store
        .transition("t", "me", state("Queued"), state("Failed"))
        .await
        .unwrap();
    assert_eq!(
        store.insert("t", "me").await,
        Err(StoreError::IdTaken {
            id: "t".into(),
            status: "Failed".into()
        })
    );
    let row = status(&store, "t").await.unwrap();
    assert_eq!((row.owner.as_str(), row.status.as_str()), ("me", "Failed"));
    let row = status(&store, "u").await.unwrap();
    assert_eq!((row.owner.as_str(), row.status.as_str()), ("me", "Queued"));
}

/// Inserts travel in batches with transitions and reasons (as a supervisor's spawns do), in
/// order: a row inserted earlier in the batch takes the writes after it, and an id in use,
/// whoever owns it, is refused alone with its row's status at that point of the batch.
pub async fn inserts_apply_in_batches<S: StatusStore<Job>>(store: S) {
    store.insert("theirs", "other").await.unwrap();
    let writes = [
        RowWrite::insert("a"),
        RowWrite::transition("a", step("Queued", "Running")),
        RowWrite::insert("b"),
        RowWrite::insert("a"),
        RowWrite::reason("a", "moved once"),
        RowWrite::insert("theirs"),
    ];
    let refused = store.apply("me", &writes).await.unwrap();
    assert_eq!(
        refused,
        [
            (
                3,
                StoreError::IdTaken {
                    id: "a".into(),
                    status: "Running".into()
                }
            ),
            (
                5,
                StoreError::IdTaken {
                    id: "theirs".into(),
                    status: "Queued".into()
                }
            )
        ]
    );
    let row = status(&store, "a").await.unwrap();
    assert_eq!(
        (
            row.owner.as_str(),
            row.status.as_str(),
            row.reason.as_deref()
        ),
        ("me", "Running", Some("moved once"))
    );
    let row = status(&store, "b").await.unwrap();
    assert_eq!((row.owner.as_str(), row.status.as_str()), ("me", "Queued"));
    let row = status(&store, "theirs").await.unwrap();
    assert_eq!(
        (row.owner.as_str(), row.status.as_str()),
        ("other", "Queued")
    );
}

/// A missing row is `NotFound`, a row in another state is `Conflict`.
pub async fn not_found_is_not_a_conflict<S: StatusStore<Job>>(store: S) {
    assert_eq!(
        store
            .transition("ghost", "me", state("Queued"), state("Running"))
            .await,
        Err(StoreError::NotFound { id: "ghost".into() })
    );
    assert_eq!(
        store.annotate("ghost", "me", "why").await,
        Err(StoreError::NotFound { id: "ghost".into() })
    );
    assert!(
        store.rows().await.unwrap().is_empty(),
        "nothing was created"
    );
}

/// A batch names the writes it refused, by index; a refused write changes nothing and the
/// others still apply.
pub async fn a_batch_answers_each_write<S: StatusStore<Job>>(store: S) {
    store.insert("a", "me").await.unwrap();
    store.insert("b", "me").await.unwrap();
    let applied = store
        .apply(
            "me",
            &[
                RowWrite::transition("a", step("Queued", "Running")),
                RowWrite::transition("b", step("Running", "Done")), // b is Queued
                RowWrite::transition("ghost", step("Queued", "Running")),
                RowWrite::transition("a", step("Running", "Done")),
                RowWrite::reason("b", "kept waiting"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        applied,
        [
            (
                1,
                StoreError::Conflict {
                    id: "b".into(),
                    expected: "Running",
                    found: "Queued".into()
                }
            ),
            (2, StoreError::NotFound { id: "ghost".into() }),
        ],
        "the refused writes, by index; the others were applied"
    );
    let rows = store.rows().await.unwrap();
    let seen: Vec<_> = rows
        .iter()
        .map(|row| (row.id.as_str(), row.status.as_str(), row.reason.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [("a", "Done", None), ("b", "Queued", Some("kept waiting"))]
    );
}

/// Reasons no backend could hold as they came (a NUL byte, which PostgreSQL's text refuses;
/// 10 MB of a dumped response) land sanitized: the NUL as `␀`, the dump cut with a marker
/// within [`MAX_REASON_BYTES`]. Text decoded lossily lands as it is.
pub async fn odd_reasons_land_sanitized<S: StatusStore<Job>>(store: S) {
    for id in ["nul", "huge", "lossy"] {
        store.insert(id, "me").await.unwrap();
    }
    let lossy = String::from_utf8_lossy(b"bad \xff\xfe byte").into_owned();
    let huge = "é".repeat(5 << 20); // 10 MiB of two-byte characters
    store.annotate("nul", "me", "exit\0code 3").await.unwrap();
    store.annotate("huge", "me", &huge).await.unwrap();
    store.annotate("lossy", "me", &lossy).await.unwrap();
    let rows = store.rows().await.unwrap();
    let reason = |id: &str| {
        let row = rows.iter().find(|row| row.id == id).unwrap();
        row.reason.clone().unwrap()
    };
    assert_eq!(reason("nul"), "exit\u{2400}code 3");
    let cut = reason("huge");
    assert!(cut.len() <= MAX_REASON_BYTES, "{} bytes kept", cut.len());
    assert!(cut.starts_with("éé"), "the start is kept");
    assert!(
        cut.ends_with("… [cut: 10485760 bytes in all]"),
        "{}",
        &cut[cut.len() - 40..]
    );
    assert_eq!(reason("lossy"), lossy);
}

/// One refused write among a thousand stands alone: the other 999 land, in order.
pub async fn one_refused_write_among_a_thousand_stands_alone<S: StatusStore<Job>>(store: S) {
    let ids: Vec<String> = (0..1000).map(|n| format!("t{n:04}")).collect();
    for id in &ids {
        store.insert(id, "me").await.unwrap();
    }
    let writes: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| match n {
            // t0617 is Queued: this transition is refused.
            617 => RowWrite::transition(id.as_str(), step("Running", "Done")),
            _ => RowWrite::transition(id.as_str(), step("Queued", "Running")),
        })
        .collect();
    let refused = store.apply("me", &writes).await.unwrap();
    assert_eq!(
        refused,
        [(
            617,
            StoreError::Conflict {
                id: "t0617".into(),
                expected: "Running",
                found: "Queued".into()
            }
        )]
    );
    let rows = store.rows().await.unwrap();
    let running = rows.iter().filter(|row| row.status == "Running").count();
    assert_eq!(running, 999);
}

/// Leases that expired more than the grace ago are reaped, each once; a live lease and a
/// lease still within the grace are kept; a dead owner's unfinished row stays an orphan.
pub async fn dead_leases_are_reaped<S: StatusStore<Job>>(store: S) {
    for owner in 0..100 {
        lapse(&store, &format!("dead-{owner:03}")).await;
    }
    store
        .renew_lease("live", Duration::from_secs(600))
        .await
        .unwrap();
    store.insert("left", "dead-007").await.unwrap();
    store.insert("kept", "live").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        store.reap_leases(Duration::from_secs(3600)).await,
        Ok(0),
        "within the grace"
    );
    assert_eq!(store.reap_leases(Duration::ZERO).await, Ok(100));
    assert_eq!(store.reap_leases(Duration::ZERO).await, Ok(0), "each once");
    let orphans: Vec<_> = store
        .orphans()
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(orphans, ["left"], "the live lease still holds its row");
    store
        .renew_lease("dead-007", Duration::from_secs(600))
        .await
        .unwrap();
    assert!(
        store.orphans().await.unwrap().is_empty(),
        "an owner that renews after its lease was reaped holds its rows again"
    );
}

/// Rows of a live lease are nobody's orphans; once it lapses, its unfinished rows are;
/// finished rows never are.
pub async fn orphans_only_after_the_lease_expires<S: StatusStore<Job>>(store: S) {
    store
        .renew_lease("alive", Duration::from_secs(60))
        .await
        .unwrap();
    for id in ["q", "r", "d"] {
        store.insert(id, "alive").await.unwrap();
    }
    store
        .transition("r", "alive", state("Queued"), state("Running"))
        .await
        .unwrap();
    store
        .transition("d", "alive", state("Queued"), state("Failed"))
        .await
        .unwrap();
    assert!(
        store.orphans().await.unwrap().is_empty(),
        "the lease is live"
    );
    lapse(&store, "alive").await;
    let orphans: Vec<_> = store
        .orphans()
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.id, row.status))
        .collect();
    assert_eq!(
        orphans,
        [
            ("q".into(), "Queued".into()),
            ("r".into(), "Running".into())
        ]
    );
    store
        .renew_lease("alive", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        store.orphans().await.unwrap().is_empty(),
        "renewed: live again"
    );
    store.release_lease("alive").await.unwrap();
    assert_eq!(store.orphans().await.unwrap().len(), 2, "released: gone");
}

/// `adopt` is a compare-and-set on owner, status and the old owner's lease.
pub async fn adopt_is_compare_and_set<S: StatusStore<Job>>(store: S) {
    store
        .renew_lease("old", Duration::from_secs(60))
        .await
        .unwrap();
    store.insert("t", "old").await.unwrap();
    let adopt = |from: &'static str, status: &'static str| {
        let store = &store;
        async move { store.adopt("t", from, state(status), "new").await.unwrap() }
    };
    assert!(
        !adopt("old", "Queued").await,
        "the old owner's lease is live"
    );
    lapse(&store, "old").await;
    assert!(!adopt("someone", "Queued").await, "not that owner's row");
    assert!(!adopt("old", "Running").await, "not in that state");
    assert!(adopt("old", "Queued").await);
    assert!(!adopt("old", "Queued").await, "adopted once, not twice");
    assert_eq!(status(&store, "t").await.unwrap().owner, "new");
}

/// After an adoption, every write of the former owner is refused and names the new one.
pub async fn writes_from_a_former_owner_are_refused<S: StatusStore<Job>>(store: S) {
    store.insert("t", "old").await.unwrap();
    store
        .transition("t", "old", state("Queued"), state("Running"))
        .await
        .unwrap();
    lapse(&store, "old").await;
    assert!(
        store
            .adopt("t", "old", state("Running"), "new")
            .await
            .unwrap()
    );
    let fenced = StoreError::Fenced {
        id: "t".into(),
        owner: "new".into(),
    };
    assert_eq!(
        store
            .transition("t", "old", state("Running"), state("Done"))
            .await,
        Err(fenced.clone())
    );
    assert_eq!(store.annotate("t", "old", "late").await, Err(fenced));
    let row = status(&store, "t").await.unwrap();
    assert_eq!((row.status.as_str(), row.reason), ("Running", None));
    store
        .transition("t", "new", state("Running"), state("Done"))
        .await
        .unwrap();
}

/// Retention forgets terminal rows only, oldest first, and frees their ids. The live rows have
/// moved too (to `Running`), before any row finished: a store that pruned by the time of the
/// last write, not by finishing, would take them first.
pub async fn retention_never_touches_a_live_row<S: StatusStore<Job>>(store: S) {
    for n in 0..6 {
        let id = format!("t{n}");
        store.insert(&id, "me").await.unwrap();
        if n % 2 == 1 {
            store
                .transition(&id, "me", state("Queued"), state("Running"))
                .await
                .unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(3)).await;
    for n in (0..6).step_by(2) {
        store
            .transition(&format!("t{n}"), "me", state("Queued"), state("Failed"))
            .await
            .unwrap();
        // Distinct finish times, so "oldest first" is observable.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let keep_one = Retention {
        max_age: None,
        max_rows: Some(1),
    };
    assert_eq!(store.prune(keep_one).await.unwrap(), 2);
    let ids = |rows: Vec<Row>| rows.into_iter().map(|row| row.id).collect::<Vec<_>>();
    assert_eq!(ids(store.rows().await.unwrap()), ["t1", "t3", "t4", "t5"]);
    assert_eq!(
        store.prune(keep_one).await.unwrap(),
        0,
        "nothing more to prune"
    );
    assert_eq!(store.prune(Retention::keep_all()).await.unwrap(), 0);
    let no_age = Retention {
        max_age: Some(Duration::ZERO),
        max_rows: None,
    };
    tokio::time::sleep(Duration::from_millis(3)).await;
    assert_eq!(store.prune(no_age).await.unwrap(), 1);
    assert_eq!(ids(store.rows().await.unwrap()), ["t1", "t3", "t5"]);
    let live = store.rows().await.unwrap();
    assert!(live.iter().all(|row| row.status == "Running"), "{live:?}");
    store.insert("t0", "me").await.unwrap(); // its row is gone, so is the id's claim
}

/// A row says when it turned terminal, and only once it has: a restart supervisor resumes its
/// restart window from these times after a crash.
pub async fn a_terminal_row_says_when_it_finished<S: StatusStore<Job>>(store: S) {
    let now = || {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        i64::try_from(since.unwrap().as_millis()).unwrap()
    };
    let before = now();
    store.insert("t", "me").await.unwrap();
    store
        .transition("t", "me", state("Queued"), state("Running"))
        .await
        .unwrap();
    assert_eq!(status(&store, "t").await.unwrap().finished_at, None);
    store
        .transition("t", "me", state("Running"), state("Done"))
        .await
        .unwrap();
    store
        .annotate("t", "me", "a reason written later")
        .await
        .unwrap();
    let after = now();
    let finished = status(&store, "t").await.unwrap().finished_at;
    let finished = finished.expect("a terminal row says when it finished");
    // A coarse clock may run a few milliseconds behind: allow a second either way.
    assert!(
        (before - 1000..=after + 1000).contains(&finished),
        "{before} <= {finished} <= {after}"
    );
    let orphaned = store.orphans().await.unwrap();
    assert!(orphaned.iter().all(|row| row.finished_at.is_none()));
}

macro_rules! store_contract {
    ($backend:ident, $make:expr) => {
        store_contract!(@backend $backend, $make, ());
    };
    // A backend whose store is made by an async `$make`.
    (async $backend:ident, $make:expr) => {
        store_contract!(@backend $backend, $make, (await));
    };
    (@backend $backend:ident, $make:expr, $made:tt) => {
        mod $backend {
            use super::*;

            store_contract!(@cases $make, $made;
                compare_and_set,
                undeclared_and_terminal_moves_are_refused,
                reused_ids_are_refused,
                inserts_apply_in_batches,
                not_found_is_not_a_conflict,
                a_batch_answers_each_write,
                orphans_only_after_the_lease_expires,
                adopt_is_compare_and_set,
                writes_from_a_former_owner_are_refused,
                retention_never_touches_a_live_row,
                a_terminal_row_says_when_it_finished,
                odd_reasons_land_sanitized,
                one_refused_write_among_a_thousand_stands_alone,
                dead_leases_are_reaped,
            );
        }
    };
    (@cases $make:expr, $made:tt; $($case:ident,)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
                let make = $make;
                super::$case(store_contract!(@made make(stringify!($case)), $made)).await;
            }
        )*
    };
    (@made $store:expr, ()) => {
        $store
    };
    (@made $store:expr, (await)) => {
        $store.await
    };
}

fn scratch(backend: &str, test: &str) -> std::path::PathBuf {
    crate::common::scratch_db(&format!("contract-{backend}-{test}"))
}

/// A store seen only through [`StatusStore::apply_now`], the path a supervisor takes for a
/// store that applies writes at once: that path keeps the whole contract too.
struct AtOnce<S>(S);

impl<S: StatusStore<Job>> StatusStore<Job> for AtOnce<S> {
    async fn insert(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self.0.insert(id, owner).await
    }

    async fn apply(
        &self,
        owner: &str,
        writes: &[RowWrite<Job>],
    ) -> Result<fixpoint::store::Refused, StoreError> {
        self.0
            .apply_now(owner, writes)
            .expect("this store applies writes at once")
    }

    async fn renew_lease(&self, owner: &str, ttl: Duration) -> Result<(), StoreError> {
        self.0.renew_lease(owner, ttl).await
    }

    async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        self.0.release_lease(owner).await
    }

    async fn reap_leases(&self, grace: Duration) -> Result<u64, StoreError> {
        self.0.reap_leases(grace).await
    }

    async fn orphans(&self) -> Result<Vec<Row>, StoreError> {
        self.0.orphans().await
    }

    async fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: fixpoint::State<Job>,
        to_owner: &str,
    ) -> Result<bool, StoreError> {
        self.0.adopt(id, from_owner, status, to_owner).await
    }

    async fn prune(&self, retention: Retention) -> Result<u64, StoreError> {
        self.0.prune(retention).await
    }

    async fn rows(&self) -> Result<Vec<Row>, StoreError> {
        self.0.rows().await
    }
}

store_contract!(memory, |_| MemoryStore::<Job>::new());
store_contract!(memory_at_once, |_| AtOnce(MemoryStore::<Job>::new()));
store_contract!(sqlite, |test| SqliteStore::<Job>::open(scratch(
    "sqlite", test
))
.unwrap());
store_contract!(shared, |_| std::sync::Arc::new(MemoryStore::<Job>::new()));
// A real server, shared by the cases, each with a database of its own.
#[cfg(feature = "postgres")]
store_contract!(async postgres, |test: &str| {
    let url = cluster::Cluster::shared().create_database(test);
    async move { fixpoint::store::PostgresStore::<Job>::connect(&url).await.unwrap() }
});
