//! Reconciling: the rows a stopped supervisor left non-terminal, adopted by this one and
//! resumed or abandoned, one row at a time.

use core::future::Future;
use std::sync::Arc;

use super::{Counters, Orphan, Reconciled, Supervisor, TaskOutput, TaskRecorder};
use crate::store::{Row, RowWrite, StatusStore, StoreError, Transition};
use crate::{Lifecycle, Resume};

impl<L, S> Supervisor<L, S>
where
    L: Lifecycle + Send,
    S: StatusStore<L>,
{
    /// Finishes the rows a stopped supervisor left non-terminal (its lease expired): each is
    /// adopted, rebuilt as its typed machine, and handed to `resume`. `Some(body)` runs the
    /// body as a supervised task; `None` drops the machine, which records the `#[abandoned]`
    /// state. A state whose variant carries data cannot be rebuilt from a status alone and is
    /// abandoned with that reason; a poisoned row is reported and left untouched.
    ///
    /// Rebuilding a machine from its row needs a lifecycle declared with
    /// `#[terminal_state(resume)]` ([`Resume`]).
    ///
    /// # Errors
    ///
    /// The store's error when orphans cannot be listed or adopted.
    pub async fn reconcile<F, Fut>(&mut self, resume: F) -> Result<Reconciled, StoreError>
    where
        L: Resume,
        F: FnMut(Orphan<L>) -> Option<Fut>,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        self.reconcile_where(|_| true, resume).await
    }

    /// [`reconcile`](Self::reconcile), for the orphans whose id `select` picks alone.
    pub(crate) async fn reconcile_where<F, Fut>(
        &mut self,
        mut select: impl FnMut(&str) -> bool,
        mut resume: F,
    ) -> Result<Reconciled, StoreError>
    where
        L: Resume,
        F: FnMut(Orphan<L>) -> Option<Fut>,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let mut report = Reconciled::default();
        for row in self.store.orphans().await? {
            if select(&row.id) {
                self.reconcile_one(row, &mut resume, &mut report).await?;
            }
        }
        self.flush_writes().await?;
        Ok(report)
    }

    /// Adopts one orphan row and resumes or abandons it, as [`reconcile`](Self::reconcile)
    /// says.
    async fn reconcile_one<F, Fut>(
        &mut self,
        row: Row,
        resume: &mut F,
        report: &mut Reconciled,
    ) -> Result<(), StoreError>
    where
        L: Resume,
        F: FnMut(Orphan<L>) -> Option<Fut>,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let Ok(state) = row.state::<L>() else {
            report.poisoned.push(row.id);
            return Ok(());
        };
        if !self
            .store
            .adopt(&row.id, &row.owner, state, &self.owner)
            .await?
        {
            return Ok(()); // another supervisor adopted it first, or its owner came back
        }
        Counters::add(&self.children.counters.reconciled, 1);
        let child = self.child(row.id.as_str().into(), state);
        let Some(status) = L::__unit(state) else {
            if let Ok(abandon) = Transition::new(state, L::abandoned()) {
                child.write(RowWrite::transition(Arc::clone(&child.id), abandon));
            }
            child.write(RowWrite::reason(
                Arc::clone(&child.id),
                "its state carries data that a status row does not hold",
            ));
            report.abandoned.push(row.id);
            return Ok(());
        };
        let recorder = TaskRecorder {
            child: Arc::clone(&child),
        };
        let orphan = Orphan {
            id: row.id.clone(),
            previous_owner: row.owner,
            state,
            machine: status.resume_recorded(row.id.clone(), recorder),
        };
        match resume(orphan) {
            Some(body) => {
                self.children.spawn(&child, body);
                report.resumed.push(row.id);
            }
            None => {
                child.write(RowWrite::reason(
                    Arc::clone(&child.id),
                    ABANDONED_AT_RECONCILE,
                ));
                report.abandoned.push(row.id);
            }
        }
        Ok(())
    }
}

/// What a row orphaned by a stopped supervisor and ended without being resumed says.
const ABANDONED_AT_RECONCILE: &str = "orphaned by a stopped supervisor; abandoned at reconcile";

impl<L, S> Supervisor<L, S>
where
    L: Lifecycle + Send,
    S: StatusStore<L>,
{
    /// Ends, without resuming them, the orphans whose id `select` picks: each is adopted, as
    /// [`reconcile`](Self::reconcile) does, then moved to the `#[abandoned]` state with its
    /// reason. Needs no `Resume`: the restart supervisor sweeps its orphaned attempts so.
    /// Returns their ids; a poisoned row is left untouched.
    pub(crate) async fn abandon_orphans_where(
        &mut self,
        mut select: impl FnMut(&str) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut ended = Vec::new();
        for row in self.store.orphans().await? {
            if !select(&row.id) {
                continue;
            }
            let Ok(state) = row.state::<L>() else {
                continue;
            };
            if !self
                .store
                .adopt(&row.id, &row.owner, state, &self.owner)
                .await?
            {
                continue; // another supervisor adopted it first, or its owner came back
            }
            Counters::add(&self.children.counters.reconciled, 1);
            let child = self.child(row.id.as_str().into(), state);
            if let Ok(abandon) = Transition::new(state, L::abandoned()) {
                child.write(RowWrite::transition(Arc::clone(&child.id), abandon));
            }
            child.write(RowWrite::reason(
                Arc::clone(&child.id),
                ABANDONED_AT_RECONCILE,
            ));
            ended.push(row.id);
        }
        self.flush_writes().await?;
        Ok(ended)
    }
}
