//! The slot table: one record per outstanding hold of a lock, written with plain stores, so
//! that knowing who holds a lock costs little and a diagnosis can still name every holder.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::PoisonError;
use std::time::Duration;

use super::diagnosis::Holder;
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const HELD: u8 = 2;

/// The holders of one lock, and the tasks waiting for it.
pub(crate) struct Slots {
    slots: Box<[Slot]>,
    waiters: Padded<AtomicUsize>,
}

/// Keeps a hot counter off the lines its neighbours write.
#[repr(align(128))]
struct Padded<T>(T);

/// Where one outstanding hold is recorded. Acquiring writes it with plain stores (the claim is
/// the only read-modify-write), so knowing the holders costs little.
// One cache line (two, on CPUs that prefetch pairs) per slot: holders on different threads
// never write to each other's line.
#[repr(align(128))]
struct Slot {
    state: AtomicU8,
    /// The acquisition site, as a key of [`SITES`].
    site: AtomicUsize,
    /// When the hold began, in coarse clock ticks.
    since: AtomicU64,
    /// Whether `label` holds this holder's label; read on release before touching the mutex.
    labeled: AtomicBool,
    label: Mutex<Option<Cow<'static, str>>>,
}

/// Acquisition sites by address, so that a slot stores a number and a diagnosis can still name
/// the file and line.
static SITES: std::sync::Mutex<BTreeMap<usize, &'static Location<'static>>> =
    std::sync::Mutex::new(BTreeMap::new());

thread_local! {
    /// The last site this thread registered: the common case, one site acquiring in a loop,
    /// skips the registry.
    static LAST_SITE: Cell<usize> = const { Cell::new(0) };
}

#[inline]
fn site_key(location: &'static Location<'static>) -> usize {
    let key = core::ptr::from_ref(location).addr();
    if LAST_SITE.get() != key {
        register_site(key, location);
    }
    key
}

/// The registry half of [`site_key`], out of line: once per site change on a thread.
#[cold]
#[inline(never)]
fn register_site(key: usize, location: &'static Location<'static>) {
    SITES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, location);
    LAST_SITE.set(key);
}

fn site(key: usize) -> &'static Location<'static> {
    let sites = SITES.lock().unwrap_or_else(PoisonError::into_inner);
    sites.get(&key).copied().unwrap_or_else(Location::caller)
}

/// A coarse monotonic clock (a few nanoseconds to read, millisecond resolution): hold times
/// are diagnoses, not measurements.
#[inline]
fn ticks() -> u64 {
    coarsetime::Instant::now_without_cache_update().as_ticks()
}

fn since(ticks_then: u64) -> Duration {
    let then = coarsetime::Instant::from_ticks(ticks_then);
    let now = coarsetime::Instant::now_without_cache_update();
    if now > then {
        (now - then).into()
    } else {
        Duration::ZERO
    }
}

impl Slots {
    /// A table for at most `capacity` simultaneous holders.
    pub(crate) fn new(capacity: usize) -> Self {
        let slots = (0..capacity)
            .map(|_| Slot {
                state: AtomicU8::new(FREE),
                site: AtomicUsize::new(0),
                since: AtomicU64::new(0),
                labeled: AtomicBool::new(false),
                label: Mutex::new(None),
            })
            .collect();
        Slots {
            slots,
            waiters: Padded(AtomicUsize::new(0)),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Claims a free slot and records its holder. The caller holds the lock already, and slots
    /// are freed before the lock is given back, so there is always one.
    ///
    /// The clock is read before the slot is taken, so no register has to survive a call once
    /// the scan for a free slot has begun.
    #[inline]
    pub(crate) fn claim(&self, location: &'static Location<'static>) -> usize {
        let site = site_key(location);
        let since = ticks();
        let (index, slot) = self.take_free();
        slot.site.store(site, Ordering::Relaxed);
        slot.since.store(since, Ordering::Relaxed);
        slot.state.store(HELD, Ordering::Release);
        index
    }

    /// A free slot, now the caller's to record in.
    #[inline]
    fn take_free(&self) -> (usize, &Slot) {
        if let [slot] = &*self.slots {
            // One slot (a mutex, a one-permit semaphore): the caller holds the lock exclusively
            // and the slot was freed before the lock was, so it is the caller's without a
            // read-modify-write, the one atomic that costs on the uncontended path.
            return (0, slot);
        }
        loop {
            for (index, slot) in self.slots.iter().enumerate() {
                if slot.state.load(Ordering::Relaxed) == FREE
                    && slot
                        .state
                        .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    return (index, slot);
                }
            }
            std::hint::spin_loop();
        }
    }

    /// Frees slot `index`; the caller gives the lock back afterwards.
    #[inline]
    pub(crate) fn release(&self, index: usize) {
        let slot = &self.slots[index];
        // Only the holder labels its slot, so a plain load suffices before the rare clear.
        if slot.labeled.load(Ordering::Relaxed) {
            slot.release_labeled();
        } else {
            slot.state.store(FREE, Ordering::Release);
        }
    }

    /// Holds in flight and the start of the oldest, visiting each slot once.
    pub(crate) fn in_flight(&self) -> (usize, Option<Duration>) {
        let held = self
            .slots
            .iter()
            .filter(|slot| slot.state.load(Ordering::Acquire) == HELD);
        let (count, oldest) =
            held.fold((0, None), |(count, oldest): (usize, Option<u64>), slot| {
                let since = slot.since.load(Ordering::Relaxed);
                (count + 1, Some(oldest.map_or(since, |o| o.min(since))))
            });
        (count, oldest.map(since))
    }

    #[inline]
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.0.load(Ordering::Relaxed)
    }

    /// Everyone holding a slot now, the longest hold first.
    pub(crate) fn holders(&self) -> Vec<Holder> {
        let mut holders: Vec<Holder> = self
            .slots
            .iter()
            .filter(|slot| slot.state.load(Ordering::Acquire) == HELD)
            .map(Slot::holder)
            .collect();
        holders.sort_by_key(|holder| std::cmp::Reverse(holder.held_for));
        holders
    }

    pub(crate) fn holder(&self, index: usize) -> Holder {
        self.slots[index].holder()
    }

    pub(crate) fn set_label(&self, index: usize, label: Cow<'static, str>) {
        let slot = &self.slots[index];
        *slot.label.lock().unwrap_or_else(PoisonError::into_inner) = Some(label);
        slot.labeled.store(true, Ordering::Relaxed);
    }

    pub(crate) fn acquired_at(&self, index: usize) -> &'static Location<'static> {
        site(self.slots[index].site.load(Ordering::Relaxed))
    }

    pub(crate) fn held_for(&self, index: usize) -> Duration {
        since(self.slots[index].since.load(Ordering::Relaxed))
    }

    /// Counts the caller as a waiter until the returned guard drops.
    #[inline]
    pub(crate) fn waiting(&self) -> Waiting<'_> {
        self.waiters.0.fetch_add(1, Ordering::Relaxed);
        Waiting(&self.waiters.0)
    }
}

impl Slot {
    /// The release of a labeled slot, out of line: most holders have no label. The label is
    /// cleared before the slot is free, so the next holder's label is never lost.
    #[cold]
    #[inline(never)]
    fn release_labeled(&self) {
        self.labeled.store(false, Ordering::Relaxed);
        *self.label.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.state.store(FREE, Ordering::Release);
    }

    fn holder(&self) -> Holder {
        let label = if self.labeled.load(Ordering::Relaxed) {
            let label = self.label.lock().unwrap_or_else(PoisonError::into_inner);
            label.as_deref().map(str::to_owned)
        } else {
            None
        };
        Holder {
            location: site(self.site.load(Ordering::Relaxed)),
            label,
            held_for: since(self.since.load(Ordering::Relaxed)),
        }
    }
}

/// Counts a waiter for as long as it waits, cancellation included.
pub(crate) struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
