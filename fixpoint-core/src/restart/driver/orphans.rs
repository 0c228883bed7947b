//! Attempts that dead processes left running: found on every heartbeat, not only when a child
//! is admitted, so that a crash loop of processes killed faster than the lease is still
//! capped. Each is ended (abandoned, a failure) and counted as a restart of its child: the
//! processes that died restarted it as surely as a failing attempt would have.

use super::*;
use crate::uptime::timekeeper;

impl<L, S> Driver<L, S>
where
    L: Lifecycle + Send,
    L::Initial: StateMarker<Data = ()>,
    S: StatusStore<L>,
{
    /// Ends every orphaned attempt of a child of this supervisor (its owner's lease lapsed)
    /// and counts a restart for each; one more than the intensity allows is the give-up.
    pub(super) async fn sweep(&mut self) -> Result<(), RestartError> {
        self.sweep = timekeeper::sleep(self.inner.config().heartbeat);
        let ids: Vec<Arc<str>> = self
            .children
            .iter()
            .map(|entry| Arc::clone(&entry.spec.id))
            .collect();
        let ended = self
            .inner
            .abandon_orphans_where(|row| {
                ids.iter()
                    .any(|child| history::attempt_of(child, row).is_some())
            })
            .await?;
        let now = Instant::now();
        for attempt in ended {
            let Some(index) = ids
                .iter()
                .position(|child| history::attempt_of(child, &attempt).is_some())
            else {
                continue;
            };
            let child = Arc::clone(&ids[index]);
            #[cfg(feature = "tracing")]
            tracing::warn!(child = &*child, %attempt, "orphaned attempt ended and counted as a restart");
            self.count_restart(index, (now, now), &child, || {
                format!("its attempt `{attempt}` was left running by a process that died")
            })?;
        }
        Ok(())
    }
}
