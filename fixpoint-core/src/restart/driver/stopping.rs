//! How the restart supervisor stops: one child (its shutdown time, then an abort), a removed
//! child, every child in reverse start order, and the give-up that ends it.

use std::time::Duration;

use super::*;
use crate::uptime::timekeeper;

impl<L, S> Driver<L, S>
where
    L: Lifecycle + Send,
    L::Initial: StateMarker<Data = ()>,
    S: StatusStore<L>,
{
    /// Stops child `index`'s running attempt, if any: asks it to stop, gives it its shutdown
    /// time, then ends its row with `why` and aborts it. Returns whether it was running.
    pub(super) async fn stop(&mut self, index: usize, why: &str) -> bool {
        let Phase::Running(live) =
            std::mem::replace(&mut self.children[index].phase, Phase::Exited)
        else {
            return false;
        };
        self.set_state(index, ChildState::Stopping);
        // In order with the attempt's own writes: a normal end keeps this reason, so the
        // rows tell a stop from a failure after a crash.
        live.task.note(why);
        live.stop.stop();
        let grace = self.children[index].spec.shutdown;
        // The row is ended at the end of the shutdown time by the timekeeper, even when this
        // driver's worker is not free to notice then.
        let task = live.task.clone();
        let reason = why.to_owned();
        let ending = timekeeper::at(std::time::Instant::now() + grace, move || {
            task.end(&reason);
        });
        if self.await_end(live.task.id(), grace).await {
            ending.cancel();
        } else {
            live.task.end(why);
            // Aborted: its end is read shortly, or (blocked in a synchronous call) its row
            // was ended without it.
            self.await_end(live.task.id(), UNRESPONSIVE_AFTER).await;
        }
        bump(&self.shared.counters.stopped);
        true
    }

    /// Waits up to `grace` for attempt `id` to end, keeping the others' ends for later.
    pub(super) async fn await_end(&mut self, id: &str, grace: Duration) -> bool {
        if let Some(found) = self.backlog.iter().position(|finished| &*finished.id == id) {
            self.backlog.remove(found);
            return true;
        }
        let deadline = std::time::Instant::now() + grace;
        loop {
            match timekeeper::timeout_at(deadline, self.inner.join_next()).await {
                Ok(Some(finished)) if &*finished.id == id => return true,
                Ok(Some(other)) => self.backlog.push_back(other),
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Stops a child and forgets it.
    pub(super) async fn remove(&mut self, id: &str) -> Result<(), ChildError> {
        let Some(index) = self.children.iter().position(|entry| &*entry.spec.id == id) else {
            return Err(ChildError::NotFound { id: id.to_owned() });
        };
        self.stop(index, &format!("{STOPPED}: removed from it"))
            .await;
        self.children.remove(index);
        self.publish();
        Ok(())
    }

    /// Stops every child in reverse start order, then the inner supervisor.
    pub(super) async fn finish(mut self, why: &str) -> Result<RestartReport, RestartError> {
        self.stop_all(&format!("{STOPPED}: {why}")).await;
        let report = self.inner.shutdown(Duration::ZERO).await?;
        Ok(RestartReport {
            rows: report.rows,
            unresponsive: report.unresponsive,
        })
    }

    /// Stops every running child in reverse start order; returns their ids in that order.
    pub(super) async fn stop_all(&mut self, why: &str) -> Vec<String> {
        let mut stopped = Vec::new();
        for index in (0..self.children.len()).rev() {
            if self.stop(index, why).await {
                stopped.push(self.children[index].spec.id.to_string());
            }
        }
        self.publish();
        stopped
    }

    /// Gives up: stops every child in reverse start order with the reason, flushes, and
    /// returns the error to report.
    pub(super) async fn give_up_with(mut self, error: RestartError) -> RestartError {
        let why = match &error {
            RestartError::GaveUp {
                child,
                restarts,
                period,
                ..
            } => format!(
                "{STOPPED}: it gave up when `{child}` ended, {restarts} restarts within {period:?}"
            ),
            error => format!("{STOPPED}: it gave up: {error}"),
        };
        let stopped = self.stop_all(&why).await;
        self.shared.gave_up();
        let flushed = self.inner.shutdown(Duration::ZERO).await;
        match error {
            RestartError::GaveUp {
                child,
                attempt,
                restarts,
                period,
                reason,
                ..
            } => RestartError::GaveUp {
                child,
                attempt,
                restarts,
                period,
                reason,
                stopped,
            },
            error => match flushed {
                Ok(_) => error,
                Err(store) => RestartError::Store(store),
            },
        }
    }
}
