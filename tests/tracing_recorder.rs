//! `TracingRecorder` (feature `tracing`): one event per transition, a warning per abandonment.
#![cfg(feature = "tracing")]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use fixpoint::{TracingRecorder, Tracked, terminal_state};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[terminal_state]
enum Job {
    #[initial]
    #[to(Running, Failed)]
    Queued,
    #[to(Done, Failed)]
    Running,
    #[terminal]
    Done,
    #[terminal]
    #[abandoned]
    Failed,
}

/// Keeps each event as `LEVEL field=value ...`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn transitions_and_abandonments_become_events() {
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
