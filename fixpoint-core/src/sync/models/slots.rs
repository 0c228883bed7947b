//! The holder slots of `Semaphore`, `Mutex` and `RwLock`.

use std::borrow::Cow;
use std::panic::Location;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use crate::lock::slots::Slots;

/// One hold of a one-slot lock: takes the lock, records itself as acquired at `site` and
/// labeled `label`, checks that the slot says so for as long as it holds, then releases the
/// slot before the lock.
fn hold_one(
    lock: &Mutex<()>,
    slots: &Slots,
    site: &'static Location<'static>,
    label: &'static str,
) {
    let _lock = lock.lock().unwrap();
    let slot = slots.claim(site);
    slots.set_label(slot, Cow::Borrowed(label));
    thread::yield_now();
    let holder = slots.holder(slot);
    assert_eq!(
        (holder.location, holder.label.as_deref()),
        (site, Some(label)),
        "a holder's record changed while it held the slot"
    );
    slots.release(slot);
}

/// A one-permit lock (its one slot claimed without a read-modify-write, since the lock is
/// held), two labeled holders from two sites one after the other, and a diagnosis at any
/// moment: each holder's record stays its own for as long as it holds, and a diagnosis made
/// after a holder finished releasing never names it.
#[test]
fn one_slot_holders_keep_their_labels_and_a_diagnosis_never_names_a_released_holder() {
    loom::model(|| {
        // Two acquisition sites, told apart by their lines.
        let first_site = Location::caller();
        let second_site = Location::caller();
        let lock = Arc::new(Mutex::new(()));
        let slots = Arc::new(Slots::new(1));
        let first_released = Arc::new(AtomicBool::new(false));
        let first = {
            let (lock, slots, released) = (lock.clone(), slots.clone(), first_released.clone());
            thread::spawn(move || {
                hold_one(&lock, &slots, first_site, "first");
                released.store(true, Ordering::Release);
            })
        };
        let diagnosis = {
            let (slots, released) = (slots.clone(), first_released.clone());
            thread::spawn(move || {
                if released.load(Ordering::Acquire) {
                    let holders = slots.holders();
                    assert!(
                        holders.iter().all(
                            |h| h.location != first_site && h.label.as_deref() != Some("first")
                        ),
                        "a diagnosis named a holder that had released: {holders:?}"
                    );
                }
            })
        };
        hold_one(&lock, &slots, second_site, "second");
        first.join().unwrap();
        diagnosis.join().unwrap();
        assert!(slots.holders().is_empty(), "a slot stayed held");
        assert_eq!(slots.in_flight().0, 0);
    });
}

/// A two-permit lock loom can see: a count of free permits taken by compare-and-swap.
struct Permits(AtomicUsize);

impl Permits {
    fn acquire(&self) {
        loop {
            let free = self.0.load(Ordering::Acquire);
            if free > 0
                && self
                    .0
                    .compare_exchange(free, free - 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return;
            }
            thread::yield_now();
        }
    }

    fn release(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Three labeled holders of a two-permit lock, so a slot one holder frees can be claimed by
/// another while the first is still returning its permit: each holder reads its own label for
/// as long as it holds, and both slots are free afterwards.
#[test]
fn three_holders_of_two_slots_keep_their_labels() {
    loom::model(|| {
        let permits = Arc::new(Permits(AtomicUsize::new(2)));
        let slots = Arc::new(Slots::new(2));
        let hold = |label: &'static str| {
            let (permits, slots) = (permits.clone(), slots.clone());
            move || {
                permits.acquire();
                let slot = slots.claim(Location::caller());
                slots.set_label(slot, Cow::Borrowed(label));
                assert_eq!(
                    slots.holder(slot).label.as_deref(),
                    Some(label),
                    "a holder's label was lost while it held the slot"
                );
                slots.release(slot);
                permits.release();
            }
        };
        let others = [thread::spawn(hold("a")), thread::spawn(hold("b"))];
        hold("c")();
        for other in others {
            other.join().unwrap();
        }
        assert_eq!(slots.in_flight().0, 0, "a slot stayed held");
    });
}

/// Two holders of a two-permit lock claim slots by compare-and-swap at the same time: each
/// gets a slot nobody else holds, and both slots are free afterwards.
#[test]
fn two_holders_never_share_a_slot() {
    loom::model(|| {
        let slots = Arc::new(Slots::new(2));
        let owners: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let hold = |slots: Arc<Slots>, owners: Arc<[AtomicUsize; 2]>| {
            move || {
                let slot = slots.claim(Location::caller());
                assert_eq!(
                    owners[slot].fetch_add(1, Ordering::Relaxed),
                    0,
                    "two holders claimed slot {slot}"
                );
                owners[slot].fetch_sub(1, Ordering::Relaxed);
                slots.release(slot);
            }
        };
        let other = thread::spawn(hold(slots.clone(), owners.clone()));
        hold(slots.clone(), owners)();
        other.join().unwrap();
        assert_eq!(slots.in_flight().0, 0, "a slot stayed held");
    });
}
