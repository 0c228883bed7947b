use fixpoint::{terminal_state, RecorderSlot, Terminal, Tracked};

#[terminal_state]
pub enum Job {
    #[initial] #[to(Running, Failed)] Queued,
    #[to(Done, Failed)]               Running,
    #[terminal]                       Done,
    #[terminal] #[abandoned]          Failed,
}

/// Works for any payload and any recorder.
fn finish_any<T, R: RecorderSlot<Job>>(job: Tracked<Job, job::Running, T, R>, ok: bool) -> Terminal<Job, T> {
    if ok { job.to_done() } else { job.to_failed() }
}

/// Works for any state that may go to `Failed`.
fn fail_from<S, T>(job: Tracked<Job, S, T>) -> Terminal<Job, T>
where
    S: fixpoint::Active + fixpoint::StateMarker<Lifecycle = Job> + fixpoint::Edge<job::Failed>,
{
    job.to_failed()
}

fn main() {
    let numbers = finish_any(Tracked::<Job, _, _>::new(vec![1, 2, 3]).to_running(), true);
    assert_eq!(numbers.into_value(), [1, 2, 3]);
    let text = finish_any(Tracked::<Job, _, _>::new("x").to_running(), false);
    assert!(text.is_abandoned());
    let _ = fail_from(Tracked::<Job, _, _>::new(()));
    let _ = fail_from(Tracked::<Job, _, _>::new(()).to_running());
}
