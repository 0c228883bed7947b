//! A long uptime in one test: a million per-question topics opened and closed on one `Bus`,
//! beside a subscription that is never waited on. Resident memory stays flat after warm-up
//! and no answer is lost.
//!
//! Alone in its binary on purpose: resident memory is per process, and another test running
//! beside it would move the figure this test measures.
#![cfg(feature = "tokio")]

use std::time::{Duration, Instant};

use fixpoint::bus::{Bus, BusLimits, WaitError};

const QUESTIONS: u64 = 1_000_000;
const WARM_UP: u64 = 100_000;
/// Growth allowed after warm-up. The old bus, which remembered every closed topic and queued
/// without bound, grew by about 100 MiB here; allocator noise is well under one.
const GROWTH_LIMIT_KIB: u64 = 4 * 1024;

/// Resident memory of this process, from the kernel's own accounting.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    line.split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in kB")
}

/// One question's life, in one of the shapes a service gives it.
async fn ask(bus: &Bus<u64, u64>, question: u64) -> bool {
    match question % 10 {
        // Cancelled before anyone listened: closed with no subscriber.
        0 => {
            bus.close_topic(&question);
            false
        }
        // The handler gave up: its subscription is dropped with the answer unread.
        1 => {
            let abandoned = bus.subscribe(question);
            bus.publish(&question, question).unwrap();
            drop(abandoned);
            bus.close_topic(&question);
            false
        }
        // The handler gave up before the answer; the topic is never closed.
        2 => {
            drop(bus.subscribe(question));
            assert_eq!(bus.publish(&question, question), Ok(0));
            false
        }
        // The contract, with the answer coming from another task while the wait is parked.
        3 => {
            let mut answer = bus.subscribe(question);
            let remote = bus.clone();
            tokio::spawn(async move { remote.publish(&question, question * 3) });
            let got = answer.wait_within(Duration::from_secs(5), || None).await;
            assert_eq!(got, Ok(question * 3), "question {question}");
            bus.close_topic(&question);
            true
        }
        // The contract: subscribe, write, wait, close.
        _ => {
            let mut answer = bus.subscribe(question);
            bus.publish(&question, question * 3).unwrap();
            let got = answer
                .wait_within(Duration::from_secs(5), || None)
                .await
                .unwrap_or_else(|error| panic!("question {question}: {error}"));
            assert_eq!(got, question * 3);
            bus.close_topic(&question);
            assert_eq!(answer.wait(|| None).await, Err(WaitError::Closed));
            true
        }
    }
}

#[tokio::test]
async fn a_million_questions_leave_memory_flat_and_lose_no_answer() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let started = Instant::now();
    const BACKLOG: u64 = 1_024;
    let bus: Bus<u64, u64> = Bus::with_limits(BusLimits::new().backlog(BACKLOG as usize));
    // A monitor that subscribed once and never waits: its backlog must stay capped.
    let monitor = bus.subscribe(u64::MAX);
    let mut answered = 0;
    let mut after_warm_up = 0;
    for question in 0..QUESTIONS {
        if question == WARM_UP {
            after_warm_up = resident_kib();
        }
        answered += u64::from(ask(&bus, question).await);
        assert_eq!(bus.publish(&u64::MAX, question), Ok(1));
    }
    let at_end = resident_kib();
    let monitor = monitor.close();
    let backlog = BACKLOG;
    assert_eq!(
        (monitor.unread(), monitor.missed()),
        (backlog, QUESTIONS - backlog)
    );
    let growth = at_end.saturating_sub(after_warm_up);
    println!(
        "{QUESTIONS} questions ({answered} answers waited for and received) in {:.1?}: \
         VmRSS {after_warm_up} KiB after warm-up, \
         {at_end} KiB at the end (+{growth} KiB)",
        started.elapsed()
    );
    assert!(
        growth < GROWTH_LIMIT_KIB,
        "resident memory grew by {growth} KiB after warm-up (limit {GROWTH_LIMIT_KIB} KiB): \
         something per topic is never reaped"
    );
}
