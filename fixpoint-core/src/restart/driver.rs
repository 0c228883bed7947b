//! The restart supervisor's own task: it owns the [`Supervisor`] that runs the attempts,
//! reads every attempt's end, and restarts, stops, adds and removes children as the policy
//! and the caller say.

use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::Poll;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::history::{self, STOPPED};
use super::policy::{Intensity, Restart, RestartBackoff, Strategy};
use super::spec::{Attempt, ChildSpec, Stop};
use super::{ChildError, ChildInfo, ChildState, RestartError, RestartReport, Shared};
use crate::lifecycle::{Lifecycle, StateMarker};
use crate::store::StatusStore;
use crate::task::{Finished, Outcome, Supervisor, TaskHandle, UNRESPONSIVE_AFTER};
use crate::uptime::timekeeper;

mod intensity;
mod orphans;
mod stopping;
/// What the caller asks of the running supervisor.
pub(super) enum Command<L: Lifecycle> {
    Add(ChildSpec<L>, oneshot::Sender<Result<(), ChildError>>),
    Remove(String, oneshot::Sender<Result<(), ChildError>>),
    Shutdown,
}

/// The policy, fixed at start.
#[derive(Clone, Copy)]
pub(super) struct Policy {
    pub(super) strategy: Strategy,
    pub(super) intensity: Intensity,
    pub(super) backoff: RestartBackoff,
}

/// One child: its spec, its last attempt, where it is, and its restarts in the window.
struct Entry<L: Lifecycle> {
    spec: ChildSpec<L>,
    attempt: u32,
    phase: Phase,
    restarts: VecDeque<Instant>,
}

enum Phase {
    /// An attempt is running.
    Running(Live),
    /// To be started at this time.
    Due(Instant),
    /// Ended for good (a transient child's normal end): not restarted.
    Exited,
}

struct Live {
    task: TaskHandle,
    stop: Arc<Stop>,
}

/// What woke the supervisor.
enum Event<L: Lifecycle> {
    Ended(Finished<L>),
    Command(Option<Command<L>>),
    Due,
    /// A heartbeat: time to look for attempts that dead processes left running.
    Sweep,
}

pub(super) struct Driver<L: Lifecycle + Send, S: StatusStore<L>> {
    pub(super) inner: Supervisor<L, S>,
    pub(super) policy: Policy,
    children: Vec<Entry<L>>,
    /// The restarts within the intensity period, oldest first.
    window: VecDeque<Instant>,
    /// Ends read while waiting for another child's, handled next.
    backlog: VecDeque<Finished<L>>,
    commands: mpsc::UnboundedReceiver<Command<L>>,
    shared: Arc<Shared>,
    random: u64,
    /// A child ended for good: once none is left to run, the supervisor stops.
    ended_for_good: bool,
    /// The next heartbeat's look for orphaned attempts (see `orphans`).
    sweep: timekeeper::Sleep,
}

impl<L, S> Driver<L, S>
where
    L: Lifecycle + Send,
    L::Initial: StateMarker<Data = ()>,
    S: StatusStore<L>,
{
    pub(super) fn new(
        inner: Supervisor<L, S>,
        policy: Policy,
        commands: mpsc::UnboundedReceiver<Command<L>>,
        shared: Arc<Shared>,
    ) -> Self {
        let random = crate::store::now_millis().unsigned_abs() | 1;
        let sweep = timekeeper::sleep(inner.config().heartbeat);
        Driver {
            inner,
            policy,
            children: Vec::new(),
            window: VecDeque::new(),
            backlog: VecDeque::new(),
            commands,
            shared,
            random,
            ended_for_good: false,
            sweep,
        }
    }

    /// Adds `spec` as the last child, its attempts numbered on from its rows and its past
    /// restarts counted in the window; due now, or after a backoff when its last attempt
    /// failed (then that start is a restart, and may be one too many).
    async fn admit(&mut self, spec: ChildSpec<L>) -> Result<(), RestartError> {
        let child = Arc::clone(&spec.id);
        // Its attempts a crashed process left running are ended (abandoned) first: failures.
        self.inner
            .abandon_orphans_where(|row| history::attempt_of(&child, row).is_some())
            .await?;
        let rows = self.inner.store().rows().await?;
        let period = self.policy.intensity.period;
        let past = history::history(&spec.id, spec.restart, &rows, period, L::abandoned().name());
        let now = Instant::now();
        let at = |ago: Duration| now.checked_sub(ago).unwrap_or(now);
        let mut restarts: VecDeque<Instant> = past.restarts.iter().map(|ago| at(*ago)).collect();
        restarts.make_contiguous().sort_unstable();
        self.window.extend(restarts.iter().copied());
        self.window.make_contiguous().sort_unstable();
        let id = Arc::clone(&spec.id);
        self.children.push(Entry {
            spec,
            attempt: past.last_attempt,
            phase: Phase::Due(now),
            restarts,
        });
        if let Some(ago) = past.pending {
            let index = self.children.len() - 1;
            let last = past.last_attempt;
            let reason = || format!("failed in its attempt #{last}, before this start");
            self.count_restart(index, (at(ago), now), &id, reason)?;
            self.children[index].phase = Phase::Due(self.backoff_after(index, now));
        }
        self.publish();
        Ok(())
    }

    /// Runs until shut down, given up, or left with nothing to run.
    pub(super) async fn run(
        mut self,
        children: Vec<ChildSpec<L>>,
    ) -> Result<RestartReport, RestartError> {
        for spec in children {
            if let Err(error) = self.admit(spec).await {
                return Err(self.give_up_with(error).await);
            }
        }
        loop {
            if let Err(error) = self.start_due().await {
                return Err(self.give_up_with(error).await);
            }
            self.publish();
            if self.ended_for_good
                && self
                    .children
                    .iter()
                    .all(|entry| matches!(entry.phase, Phase::Exited))
            {
                return self.finish("shutdown: no child is left to run").await;
            }
            match self.next_event().await {
                Event::Due => {}
                Event::Sweep => {
                    if let Err(error) = self.sweep().await {
                        return Err(self.give_up_with(error).await);
                    }
                }
                Event::Ended(finished) => {
                    if let Err(error) = self.on_end(finished).await {
                        return Err(self.give_up_with(error).await);
                    }
                }
                Event::Command(Some(Command::Add(spec, reply))) => {
                    if self.children.iter().any(|entry| entry.spec.id == spec.id) {
                        let id = spec.id.to_string();
                        let _ = reply.send(Err(ChildError::Duplicate { id }));
                        continue;
                    }
                    // Started before the answer: the caller sees it in `children()`.
                    let added = match self.admit(spec).await {
                        Ok(()) => self.start_due().await,
                        Err(error) => Err(error),
                    };
                    if let Err(error) = added {
                        return Err(self.give_up_with(error).await);
                    }
                    self.publish();
                    let _ = reply.send(Ok(()));
                }
                Event::Command(Some(Command::Remove(id, reply))) => {
                    let removed = self.remove(&id).await;
                    let _ = reply.send(removed);
                }
                Event::Command(Some(Command::Shutdown) | None) => {
                    return self.finish("shutdown").await;
                }
            }
        }
    }

    /// The next thing to act on: an end read earlier, a command, an attempt's end, or the
    /// time a child is due.
    async fn next_event(&mut self) -> Event<L> {
        if let Some(finished) = self.backlog.pop_front() {
            return Event::Ended(finished);
        }
        let due = self
            .children
            .iter()
            .filter_map(|entry| match entry.phase {
                Phase::Due(at) => Some(at),
                _ => None,
            })
            .min();
        let running = self
            .children
            .iter()
            .any(|entry| matches!(entry.phase, Phase::Running(_)));
        let mut sleep = pin!(due.map(tokio::time::sleep_until));
        let sweep = &mut self.sweep;
        let mut ended = pin!(self.inner.join_next());
        let commands = &mut self.commands;
        poll_fn(|cx| {
            if let Poll::Ready(command) = commands.poll_recv(cx) {
                return Poll::Ready(Event::Command(command));
            }
            if Pin::new(&mut *sweep).poll(cx).is_ready() {
                return Poll::Ready(Event::Sweep);
            }
            // With nothing running, `join_next` has nothing to wait for: it is not polled.
            if running && let Poll::Ready(Some(finished)) = ended.as_mut().poll(cx) {
                return Poll::Ready(Event::Ended(finished));
            }
            if let Some(sleep) = sleep.as_mut().as_pin_mut()
                && sleep.poll(cx).is_ready()
            {
                return Poll::Ready(Event::Due);
            }
            Poll::Pending
        })
        .await
    }

    /// Starts every child that is due, in start order.
    async fn start_due(&mut self) -> Result<(), RestartError> {
        let now = Instant::now();
        for index in 0..self.children.len() {
            if matches!(self.children[index].phase, Phase::Due(at) if at <= now) {
                self.start(index).await?;
            }
        }
        Ok(())
    }

    /// Spawns the child's next attempt as a supervised task, and waits for it to report
    /// started if the child says so.
    async fn start(&mut self, index: usize) -> Result<(), RestartError> {
        let entry = &mut self.children[index];
        entry.attempt += 1;
        let stop = Arc::new(Stop::default());
        let (started, reported) = match entry.spec.await_started {
            Some(limit) => {
                let (started, reported) = oneshot::channel();
                (Some(started), Some((reported, limit)))
            }
            None => (None, None),
        };
        let mut attempt = Attempt {
            child: Arc::clone(&entry.spec.id),
            number: entry.attempt,
            started,
            stop: Arc::clone(&stop),
            progress: OnceLock::new(),
        };
        let id = history::row_id(&entry.spec.id, entry.attempt);
        let run = Arc::clone(&entry.spec.run);
        let spawned = match entry.spec.watchdog {
            None => {
                self.inner
                    .spawn(id, (), move |machine| run(machine, attempt))
                    .await
            }
            Some(threshold) => {
                let body = move |machine, progress| {
                    attempt.progress = OnceLock::from(progress);
                    run(machine, attempt)
                };
                self.inner.spawn_watched(id, (), threshold, body).await
            }
        };
        let task = spawned.map_err(|crate::task::SpawnError::Store(error)| error)?;
        // An attempt counts once its row is durable (a watched one waited for it already).
        task.committed().await?;
        bump(&self.shared.counters.attempts);
        if let Some((reported, limit)) = reported {
            self.set_state(index, ChildState::Starting);
            let reason = format!("did not report started within {limit:?}");
            // Ended at the limit by the timekeeper, even when this driver's worker is not free
            // then: its end is read next, an abnormal one, under its policy.
            let deadline = std::time::Instant::now() + limit;
            let ending = timekeeper::at(deadline, {
                let (task, reason) = (task.clone(), reason.clone());
                move || task.end(&reason)
            });
            // `Ok(Err(_))` means the attempt ended before it reported: its end is read next.
            match timekeeper::timeout_at(deadline, reported).await {
                Ok(_) => drop(ending.cancel()),
                // Ended already by the timekeeper's action; ending twice ends nothing twice.
                Err(_) => task.end(&reason),
            }
        }
        self.children[index].phase = Phase::Running(Live { task, stop });
        Ok(())
    }

    /// Acts on an attempt's end: restarts what the policy says, or gives up.
    async fn on_end(&mut self, finished: Finished<L>) -> Result<(), RestartError> {
        let Some(index) = self.running_index(&finished.id) else {
            return Ok(()); // an attempt stopped on purpose, or of a removed child
        };
        let normal = matches!(finished.outcome, Outcome::Finished(state) if !state.is_abandoned());
        let counters = &self.shared.counters;
        bump(if normal {
            &counters.normal
        } else {
            &counters.abnormal
        });
        let entry = &mut self.children[index];
        entry.phase = Phase::Exited;
        let restart = match (&finished.outcome, entry.spec.restart) {
            // Its row is another supervisor's now: it is that one's to drive.
            (Outcome::Fenced, _) | (_, Restart::Temporary) => false,
            (_, Restart::Permanent) => true,
            (_, Restart::Transient) => !normal,
        };
        if !restart {
            self.ended_for_good = true;
            self.drop_temporaries();
            return Ok(());
        }
        let now = Instant::now();
        let id = Arc::clone(&self.children[index].spec.id);
        self.count_restart(index, (now, now), &id, || describe(&finished.outcome))?;
        let group = match self.policy.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => index..self.children.len(),
        };
        let why = || {
            let reason = describe(&finished.outcome);
            format!("{STOPPED}: restarting it with `{id}`, which ended ({reason})")
        };
        let mut restarted = vec![index];
        for sibling in group.rev().filter(|&sibling| sibling != index) {
            let entry = &self.children[sibling];
            let temporary = entry.spec.restart == Restart::Temporary;
            match entry.phase {
                // A temporary sibling is stopped and not restarted: it goes.
                Phase::Running(_) | Phase::Due(_) if temporary => {
                    self.stop(sibling, &why()).await;
                    self.children[sibling].phase = Phase::Exited;
                }
                Phase::Running(_) => {
                    self.stop(sibling, &why()).await;
                    restarted.push(sibling);
                }
                Phase::Due(_) => restarted.push(sibling),
                // Ended for good (a transient child's normal end): it stays down.
                Phase::Exited => {}
            }
        }
        let at = self.backoff_after(index, now);
        for member in restarted {
            self.children[member].phase = Phase::Due(at);
        }
        self.drop_temporaries();
        Ok(())
    }

    fn running_index(&self, row: &str) -> Option<usize> {
        self.children
            .iter()
            .position(|entry| matches!(&entry.phase, Phase::Running(live) if live.task.id() == row))
    }

    fn drop_temporaries(&mut self) {
        self.children.retain(|entry| {
            !(entry.spec.restart == Restart::Temporary && matches!(entry.phase, Phase::Exited))
        });
    }

    fn set_state(&self, index: usize, state: ChildState) {
        let id = &self.children[index].spec.id;
        let mut list = self.shared.lock();
        if let Some(info) = list.iter_mut().find(|info| Arc::ptr_eq(&info.id, id)) {
            info.state = state;
        }
    }

    /// Publishes the live list for [`children`](super::RestartSupervisor::children).
    fn publish(&mut self) {
        let now = Instant::now();
        let period = self.policy.intensity.period;
        for entry in &mut self.children {
            forget_before(&mut entry.restarts, now, period);
        }
        let mut list = self.shared.lock();
        let same = list.len() == self.children.len()
            && list
                .iter()
                .zip(&self.children)
                .all(|(info, entry)| Arc::ptr_eq(&info.id, &entry.spec.id));
        if !same {
            list.clear();
            list.extend(self.children.iter().map(|entry| ChildInfo {
                id: Arc::clone(&entry.spec.id),
                state: ChildState::Starting,
                restart: entry.spec.restart,
                attempt: 0,
                restarts_in_window: 0,
            }));
        }
        // In place: a restart changes a few numbers, not the list.
        for (info, entry) in list.iter_mut().zip(&self.children) {
            info.state = match entry.phase {
                Phase::Running(_) => ChildState::Active,
                Phase::Due(at) if at > now => ChildState::BackingOff,
                Phase::Due(_) => ChildState::Starting,
                Phase::Exited => ChildState::Exited,
            };
            info.attempt = entry.attempt;
            info.restarts_in_window = u32::try_from(entry.restarts.len()).unwrap_or(u32::MAX);
        }
    }
}

/// Forgets the restarts in `window` (oldest first) that are more than `period` before `now`.
fn forget_before(window: &mut VecDeque<Instant>, now: Instant, period: Duration) {
    while window
        .front()
        .is_some_and(|&oldest| now.saturating_duration_since(oldest) > period)
    {
        window.pop_front();
    }
}

/// An attempt's end, in words, for the give-up's reason.
fn describe<L: Lifecycle>(outcome: &Outcome<L>) -> String {
    match outcome {
        Outcome::Finished(state) => format!("finished in `{}`", state.name()),
        Outcome::Failed(error) => format!("failed: {error}"),
        Outcome::Panicked(message) => format!("panicked: {message}"),
        Outcome::Aborted => "aborted (its row says why: an abort, or its watchdog)".to_owned(),
        Outcome::Fenced => "fenced".to_owned(),
        Outcome::Refused(error) => format!("not started: the store refused its row: {error}"),
    }
}

fn bump(counter: &std::sync::atomic::AtomicU64) {
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}
