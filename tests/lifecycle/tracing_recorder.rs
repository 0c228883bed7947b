//! `TracingRecorder` (feature `tracing`): one event per transition, a warning per abandonment.
#![cfg(feature = "tracing")]

use fixpoint::{TracingRecorder, Tracked};
use tracing::Level;

use crate::common::job as jobs;
use jobs::*;

use crate::common::capture;
use capture::Capture;

#[test]
fn transitions_and_abandonments_become_events() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let _ = Tracked::<Job, _, _>::new(())
            .with_recorder(TracingRecorder)
            .to_running()
            .to_done();
        drop(
            Tracked::<Job, _, _>::new(())
                .with_recorder(TracingRecorder)
                .to_running(),
        );
    });
    let lines = capture.0.lock().unwrap().clone();
    assert_eq!(
        lines,
        [
            format!(
                "{} message=lifecycle transition lifecycle=Job from=Queued to=Running",
                Level::INFO
            ),
            format!(
                "{} message=lifecycle transition lifecycle=Job from=Running to=Done",
                Level::INFO
            ),
            format!(
                "{} message=lifecycle transition lifecycle=Job from=Queued to=Running",
                Level::INFO
            ),
            format!(
                "{} message=lifecycle abandoned lifecycle=Job from=Running to=Failed cause=dropped",
                Level::WARN
            ),
        ]
    );
}
