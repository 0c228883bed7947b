//! A semaphore that knows who holds its permits, and says so when a wait for one times out.

use core::fmt;
use core::future::{Future, IntoFuture};
use core::marker::PhantomData;
use core::pin::Pin;
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::scope::{LockScope, VisiblyBounded};

/// How long a [`HandOff`] may travel before entering a lock scope, in debug builds.
const HANDOFF_GRACE: Duration = Duration::from_secs(5);

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const HELD: u8 = 2;

/// A counting semaphore (tokio's, underneath) whose permits are scoped by
/// `#[lock_scope(no_unbounded_await)]` and whose holders are known.
///
/// Every permit records where it was acquired (`#[track_caller]`), since when, and an optional
/// label. When [`acquire_timeout`](Semaphore::acquire_timeout) gives up, its error names each
/// holder and how long it has held its permit: a timeout that diagnoses instead of only killing.
/// [`gauges`](Semaphore::gauges) reads permits in flight, waiters and the longest current hold.
///
/// Cloning is cheap and shares the permits.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{lock_scope, Semaphore};
///
/// #[lock_scope(no_unbounded_await)]
/// async fn run_agent(pool: &Semaphore) -> Result<(), fixpoint::AcquireTimeout> {
///     let permit = pool.acquire_timeout(&lock_scope, Duration::from_secs(1)).await?;
///     permit.set_label("agent run for alice");
///     // ... bounded work only while the permit is held ...
///     drop(permit);
///     Ok(())
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pool = Semaphore::new("agents", 2);
/// run_agent(&pool).await.unwrap();
/// assert_eq!(pool.gauges().in_flight, 0);
/// # }
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<Inner>,
}

struct Inner {
    name: Cow<'static, str>,
    tokio: tokio::sync::Semaphore,
    slots: Box<[Slot]>,
    waiters: Padded<AtomicUsize>,
}

/// Keeps a hot counter off the lines its neighbours write.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> core::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Where one outstanding permit's holder is recorded. Acquiring writes it with plain stores
/// (the claim is the only read-modify-write), so knowing the holders costs little.
// One cache line (two, on CPUs that prefetch pairs) per slot: holders on different threads
// never write to each other's line.
#[repr(align(128))]
struct Slot {
    state: AtomicU8,
    /// The acquisition site, as a key of [`SITES`].
    site: AtomicUsize,
    /// When the permit was acquired, in coarse clock ticks.
    since: AtomicU64,
    /// Whether `label` holds this holder's label; read on release before touching the mutex.
    labeled: AtomicBool,
    label: Mutex<Option<Cow<'static, str>>>,
}

/// Acquisition sites by address, so that a slot stores a number and a diagnosis can still name
/// the file and line.
static SITES: Mutex<BTreeMap<usize, &'static Location<'static>>> = Mutex::new(BTreeMap::new());

thread_local! {
    /// The last site this thread registered: the common case, one site acquiring in a loop,
    /// skips the registry.
    static LAST_SITE: Cell<usize> = const { Cell::new(0) };
}

fn site_key(location: &'static Location<'static>) -> usize {
    let key = core::ptr::from_ref(location).addr();
    LAST_SITE.with(|last| {
        if last.get() != key {
            SITES
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, location);
            last.set(key);
        }
    });
    key
}

fn site(key: usize) -> &'static Location<'static> {
    let sites = SITES.lock().unwrap_or_else(PoisonError::into_inner);
    sites.get(&key).copied().unwrap_or_else(Location::caller)
}

/// A coarse monotonic clock (a few nanoseconds to read, millisecond resolution): hold times
/// are diagnoses, not measurements.
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

impl Semaphore {
    /// A semaphore named `name` (the name appears in diagnoses) with `permits` permits.
    ///
    /// # Panics
    ///
    /// When `permits` exceeds tokio's limit (`usize::MAX >> 3`).
    #[must_use]
    pub fn new(name: impl Into<Cow<'static, str>>, permits: usize) -> Self {
        let slots = (0..permits)
            .map(|_| Slot {
                state: AtomicU8::new(FREE),
                site: AtomicUsize::new(0),
                since: AtomicU64::new(0),
                labeled: AtomicBool::new(false),
                label: Mutex::new(None),
            })
            .collect();
        Semaphore {
            inner: Arc::new(Inner {
                name: name.into(),
                tokio: tokio::sync::Semaphore::new(permits),
                slots,
                waiters: Padded(AtomicUsize::new(0)),
            }),
        }
    }

    /// The name given at creation.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The number of permits, held or not.
    #[must_use]
    pub fn permits(&self) -> usize {
        self.inner.slots.len()
    }

    /// Waits for a permit, for as long as it takes. Inside
    /// `#[lock_scope(no_unbounded_await)]` this wait is unbounded, so it does not compile while
    /// another permit of the scope is alive; use
    /// [`acquire_timeout`](Semaphore::acquire_timeout) there.
    #[track_caller]
    pub fn acquire<'s>(
        &'s self,
        scope: &'s LockScope,
    ) -> impl Future<Output = Permit<'s>> + Send + 's {
        self.acquire_at(scope, Location::caller(), None)
    }

    /// Waits at most `limit` for a permit. A wait the attribute accepts as bounded.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeout`] when no permit came free in time: it names every holder, where it
    /// acquired its permit and for how long it has held it.
    #[track_caller]
    pub fn acquire_timeout<'s>(
        &'s self,
        scope: &'s LockScope,
        limit: Duration,
    ) -> AcquireWithin<'s> {
        AcquireWithin {
            semaphore: self,
            scope,
            limit,
            location: Location::caller(),
            label: None,
        }
    }

    /// A permit if one is free right now.
    #[track_caller]
    pub fn try_acquire<'s>(&'s self, scope: &'s LockScope) -> Option<Permit<'s>> {
        let permit = self.inner.tokio.try_acquire().ok()?;
        permit.forget();
        Some(Permit::claim(
            SemaphoreRef::Borrowed(self),
            scope,
            Location::caller(),
        ))
    }

    /// Permits in flight, waiters, and the longest current hold.
    ///
    /// Acquisition and release keep them with plain stores; reading visits each permit's
    /// record once.
    #[must_use]
    pub fn gauges(&self) -> Gauges {
        let held = self
            .inner
            .slots
            .iter()
            .filter(|slot| slot.state.load(Ordering::Acquire) == HELD);
        let (in_flight, oldest) =
            held.fold((0, None), |(count, oldest): (usize, Option<u64>), slot| {
                let since = slot.since.load(Ordering::Relaxed);
                (count + 1, Some(oldest.map_or(since, |o| o.min(since))))
            });
        Gauges {
            permits: self.inner.slots.len(),
            in_flight,
            waiters: self.inner.waiters.load(Ordering::Relaxed),
            longest_hold: oldest.map(since),
        }
    }

    /// Everyone holding a permit now, the longest hold first.
    #[must_use]
    pub fn holders(&self) -> Vec<Holder> {
        let mut holders: Vec<Holder> = self
            .inner
            .slots
            .iter()
            .filter(|slot| slot.state.load(Ordering::Acquire) == HELD)
            .map(Slot::holder)
            .collect();
        holders.sort_by_key(|holder| std::cmp::Reverse(holder.held_for));
        holders
    }

    /// The one acquisition path: waits, claims a slot for the holder at `location`, labels it.
    /// Cancel-safe: until the permit exists, dropping the future gives nothing up.
    async fn acquire_at<'s>(
        &'s self,
        scope: &'s LockScope,
        location: &'static Location<'static>,
        label: Option<Cow<'static, str>>,
    ) -> Permit<'s> {
        let waiting = self.wait_for_permit().await;
        let permit = Permit::claim(SemaphoreRef::Borrowed(self), scope, location);
        drop(waiting);
        if let Some(label) = label {
            permit.set_label(label);
        }
        permit
    }

    /// Takes a tokio permit. The returned guard keeps counting the caller as a waiter until it
    /// is dropped, after the permit is claimed, so the gauges never miss a permit in between.
    async fn wait_for_permit(&self) -> Option<Waiting<'_>> {
        let inner = &*self.inner;
        if let Ok(permit) = inner.tokio.try_acquire() {
            permit.forget();
            return None;
        }
        let waiting = Waiting::new(&inner.waiters);
        let permit = inner.tokio.acquire().await;
        // The tokio semaphore is never closed, so acquiring cannot fail.
        permit.expect("fixpoint never closes a semaphore").forget();
        Some(waiting)
    }

    fn timed_out(&self, waited: Duration) -> AcquireTimeout {
        AcquireTimeout {
            semaphore: self.inner.name.to_string(),
            permits: self.permits(),
            waited,
            holders: self.holders(),
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("name", &self.inner.name)
            .field("gauges", &self.gauges())
            .finish()
    }
}

impl Inner {
    /// Claims a free slot and records its holder. There is always one: a tokio permit was
    /// taken first, and slots are freed before their permits are given back.
    fn claim(&self, location: &'static Location<'static>) -> usize {
        let site = site_key(location);
        loop {
            for (index, slot) in self.slots.iter().enumerate() {
                if slot.state.load(Ordering::Relaxed) == FREE
                    && slot
                        .state
                        .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    slot.site.store(site, Ordering::Relaxed);
                    slot.since.store(ticks(), Ordering::Relaxed);
                    slot.state.store(HELD, Ordering::Release);
                    return index;
                }
            }
            std::hint::spin_loop();
        }
    }

    fn release(&self, index: usize) {
        let slot = &self.slots[index];
        // Only the holder labels its slot, so a plain load suffices before the rare clear.
        if slot.labeled.load(Ordering::Relaxed) {
            slot.labeled.store(false, Ordering::Relaxed);
            *slot.label.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        slot.state.store(FREE, Ordering::Release);
        self.tokio.add_permits(1);
    }
}

impl Slot {
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

    fn set_label(&self, label: Cow<'static, str>) {
        *self.label.lock().unwrap_or_else(PoisonError::into_inner) = Some(label);
        self.labeled.store(true, Ordering::Relaxed);
    }
}

/// Counts a waiter for as long as it waits, cancellation included.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(waiters: &'a AtomicUsize) -> Self {
        waiters.fetch_add(1, Ordering::Relaxed);
        Waiting(waiters)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The semaphore a permit belongs to: borrowed when acquired in this scope, owned when it
/// arrived as a [`HandOff`].
enum SemaphoreRef<'s> {
    Borrowed(&'s Semaphore),
    Owned(Semaphore),
}

impl SemaphoreRef<'_> {
    fn get(&self) -> &Semaphore {
        match self {
            SemaphoreRef::Borrowed(semaphore) => semaphore,
            SemaphoreRef::Owned(semaphore) => semaphore,
        }
    }
}

/// One permit of a [`Semaphore`], held for as long as this value lives, and borrowing the
/// [`LockScope`] it was acquired in, so that `#[lock_scope(no_unbounded_await)]` can see it.
///
/// Dropping it gives the permit back. To give it up around a long wait and take it again
/// afterwards, use [`release`](Permit::release); to move it into a spawned task, use
/// [`hand_off`](Permit::hand_off).
///
/// Holding it across an unbounded await does not compile:
///
/// ```compile_fail,E0502
/// use fixpoint::{lock_scope, Semaphore};
///
/// async fn user_reply() -> String { String::new() }
///
/// #[lock_scope(no_unbounded_await)]
/// async fn ask_user(pool: &Semaphore) -> String {
///     let permit = pool.acquire(&lock_scope).await;
///     let reply = user_reply().await; // the permit is still held here
///     drop(permit);
///     reply
/// }
/// ```
#[must_use = "a permit is given back as soon as it is dropped"]
pub struct Permit<'s> {
    semaphore: SemaphoreRef<'s>,
    slot: usize,
    scope: PhantomData<&'s LockScope>,
}

impl<'s> Permit<'s> {
    fn claim(
        semaphore: SemaphoreRef<'s>,
        _scope: &'s LockScope,
        location: &'static Location<'static>,
    ) -> Self {
        let slot = semaphore.get().inner.claim(location);
        Permit {
            semaphore,
            slot,
            scope: PhantomData,
        }
    }

    /// Names the holder in diagnoses: "agent run for alice".
    pub fn set_label(&self, label: impl Into<Cow<'static, str>>) {
        self.slot().set_label(label.into());
    }

    /// Where the permit was acquired.
    #[must_use]
    pub fn acquired_at(&self) -> &'static Location<'static> {
        site(self.slot().site.load(Ordering::Relaxed))
    }

    /// How long the permit has been held (coarse: millisecond resolution).
    #[must_use]
    pub fn held_for(&self) -> Duration {
        since(self.slot().since.load(Ordering::Relaxed))
    }

    fn slot(&self) -> &Slot {
        &self.semaphore.get().inner.slots[self.slot]
    }

    /// Gives the permit back and keeps what is needed to take one again with
    /// [`Released::reacquire`]: for code that must not hold its slot across a long wait.
    /// The `Released` borrows nothing, so the wait in between is free of the scope.
    pub fn release(self) -> Released {
        let label = self.holder().label.map(Cow::Owned);
        let semaphore = self.semaphore.get().clone();
        drop(self);
        Released { semaphore, label }
    }

    /// Detaches the permit from this scope so that it can move into a spawned task, which
    /// enters it into its own scope with [`HandOff::enter`] (a `HandOff` parameter of a
    /// `#[lock_scope]` function is entered automatically).
    pub fn hand_off(self) -> HandOff {
        let semaphore = self.semaphore.get().clone();
        let slot = self.slot;
        // The permit now belongs to the hand-off: keep its slot, skip this drop.
        core::mem::forget(self);
        HandOff {
            semaphore,
            slot: Some(slot),
            since: Instant::now(),
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.get().inner.release(self.slot);
    }
}

impl Permit<'_> {
    fn holder(&self) -> Holder {
        self.slot().holder()
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let holder = self.holder();
        f.debug_struct("Permit")
            .field("semaphore", &self.semaphore.get().name())
            .field("acquired_at", &format_args!("{}", holder.location))
            .field("label", &holder.label)
            .field("held_for", &holder.held_for)
            .finish()
    }
}

/// A permit in transit to another task; see [`Permit::hand_off`].
///
/// The borrow checker cannot see a permit while it travels. Enter it into the receiving task's
/// scope at once: in debug builds, entering a hand-off more than five seconds after it was made
/// panics, because a permit that travels that long was held across a wait.
#[must_use = "a hand-off gives its permit back when dropped"]
pub struct HandOff {
    semaphore: Semaphore,
    slot: Option<usize>,
    since: Instant,
}

impl HandOff {
    /// Makes the permit one of `scope`'s again.
    ///
    /// # Panics
    ///
    /// In debug builds, when the hand-off was made more than five seconds ago.
    pub fn enter(mut self, scope: &LockScope) -> Permit<'_> {
        let travelled = self.since.elapsed();
        if cfg!(debug_assertions) && travelled > HANDOFF_GRACE {
            panic!(
                "a permit of semaphore `{}` was in transit for {} before entering a lock scope: \
                 a HandOff held across a wait holds its permit where no #[lock_scope] can see \
                 it; enter it as soon as the receiving task starts",
                self.semaphore.name(),
                human(travelled),
            );
        }
        let _ = scope;
        let slot = self.slot.take().unwrap_or_default();
        Permit {
            semaphore: SemaphoreRef::Owned(self.semaphore.clone()),
            slot,
            scope: PhantomData,
        }
    }
}

impl Drop for HandOff {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.semaphore.inner.release(slot);
        }
    }
}

impl fmt::Debug for HandOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandOff")
            .field("semaphore", &self.semaphore.name())
            .field("in_transit_for", &self.since.elapsed())
            .finish()
    }
}

/// A permit given back by [`Permit::release`], ready to be taken again.
#[must_use = "reacquire the permit, or drop this to stay without one"]
pub struct Released {
    semaphore: Semaphore,
    label: Option<Cow<'static, str>>,
}

impl Released {
    /// Waits for a permit again, keeping the label. An unbounded wait, like
    /// [`Semaphore::acquire`].
    #[track_caller]
    pub fn reacquire<'a>(
        &'a self,
        scope: &'a LockScope,
    ) -> impl Future<Output = Permit<'a>> + Send + 'a {
        self.semaphore
            .acquire_at(scope, Location::caller(), self.label.clone())
    }

    /// Waits at most `limit` for a permit again, keeping the label.
    #[track_caller]
    pub fn reacquire_timeout<'a>(
        &'a self,
        scope: &'a LockScope,
        limit: Duration,
    ) -> AcquireWithin<'a> {
        AcquireWithin {
            semaphore: &self.semaphore,
            scope,
            limit,
            location: Location::caller(),
            label: self.label.clone(),
        }
    }
}

impl fmt::Debug for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Released")
            .field("semaphore", &self.semaphore.name())
            .field("label", &self.label)
            .finish()
    }
}

/// A bounded wait for a permit, made by [`Semaphore::acquire_timeout`]; await it.
#[must_use = "nothing is acquired until this is awaited"]
pub struct AcquireWithin<'s> {
    semaphore: &'s Semaphore,
    scope: &'s LockScope,
    limit: Duration,
    location: &'static Location<'static>,
    label: Option<Cow<'static, str>>,
}

impl fmt::Debug for AcquireWithin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireWithin")
            .field("semaphore", &self.semaphore.name())
            .field("limit", &self.limit)
            .finish()
    }
}

impl<'s> IntoFuture for AcquireWithin<'s> {
    type Output = Result<Permit<'s>, AcquireTimeout>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 's>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let AcquireWithin {
                semaphore,
                scope,
                limit,
                location,
                label,
            } = self;
            let started = Instant::now();
            let acquired = semaphore.acquire_at(scope, location, label);
            match tokio::time::timeout(limit, acquired).await {
                Ok(permit) => Ok(permit),
                Err(_) => Err(semaphore.timed_out(started.elapsed())),
            }
        })
    }
}

impl VisiblyBounded for AcquireWithin<'_> {}

/// Who holds a permit: where it was acquired, its label, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Where the permit was acquired.
    pub location: &'static Location<'static>,
    /// The label set with [`Permit::set_label`].
    pub label: Option<String>,
    /// How long the permit had been held when this was read.
    pub held_for: Duration,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(label) = &self.label {
            write!(f, "`{label}` ")?;
        }
        write!(
            f,
            "acquired at {}, held for {}",
            self.location,
            human(self.held_for)
        )
    }
}

/// A wait for a permit that gave up; it names who held them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no permit of semaphore `{semaphore}` came free within {}: all {permits} are held ({})",
    human(*.waited),
    list(.holders)
)]
pub struct AcquireTimeout {
    /// The semaphore's name.
    pub semaphore: String,
    /// Its number of permits.
    pub permits: usize,
    /// How long the acquisition waited.
    pub waited: Duration,
    /// Who held permits when it gave up, the longest hold first.
    pub holders: Vec<Holder>,
}

fn list(holders: &[Holder]) -> String {
    let holders: Vec<String> = holders.iter().map(ToString::to_string).collect();
    holders.join("; ")
}

/// `93m05s`, `4.2s`, `120ms`: durations as a person reads them.
fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 3600 {
        format!("{}h{:02}m{:02}s", secs / 3600, secs % 3600 / 60, secs % 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else if secs >= 1 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The gauges of a [`Semaphore`], read by [`Semaphore::gauges`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gauges {
    /// The number of permits.
    pub permits: usize,
    /// Permits held now.
    pub in_flight: usize,
    /// Tasks waiting for a permit now.
    pub waiters: usize,
    /// The longest current hold, if any permit is held.
    pub longest_hold: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_reads_them() {
        assert_eq!(human(Duration::from_secs(93 * 60 + 5)), "1h33m05s");
        assert_eq!(human(Duration::from_secs(125)), "2m05s");
        assert_eq!(human(Duration::from_millis(4_200)), "4.2s");
        assert_eq!(human(Duration::from_millis(120)), "120ms");
    }
}
