//! The supervisor's write queue: the buffer the writer swaps out whole, its sleep and its
//! wake-ups.

use std::time::Duration;

use loom::sync::Arc;
use loom::thread;
use tokio::sync::oneshot;

use crate::store::{RowChange, RowWrite};
use crate::task::queue::{Maker, Queued, channel};

/// Two tasks each make two writes to their own row and then wait for a flush, while the
/// writer takes batches, lingers for more and applies them: every write is applied exactly
/// once and in order per row, each flush is answered after the writes queued before it (so
/// a wake-up lost while the writer sleeps or lingers leaves a task waiting forever, which loom
/// reports as a deadlock), and the writer stops once the queue is closed and empty.
#[test]
fn every_write_is_applied_once_in_order_and_no_wake_up_is_lost() {
    loom::model(|| {
        let (sender, mut receiver) = channel::<()>(None);
        let sender = Arc::new(sender);
        let writer = thread::spawn(move || {
            let (mut batch, mut applied) = (Vec::new(), Vec::new());
            while receiver.recv_all(&mut batch) {
                receiver.linger(Duration::from_millis(1));
                receiver.try_recv_all(&mut batch);
                for item in batch.drain(..) {
                    match item {
                        Queued::Write(write, _) => match write.change() {
                            RowChange::Reason(seq) => {
                                applied.push((write.id().to_owned(), seq.clone()))
                            }
                            _ => unreachable!("the model queues reasons only"),
                        },
                        Queued::Flush(done) => {
                            let _ = done.send(Ok(()));
                        }
                    }
                }
                receiver.applied();
            }
            applied
        });
        let task = |row: usize| {
            let sender = sender.clone();
            move || {
                for seq in 0..2 {
                    let write = RowWrite::reason(format!("row {row}"), seq.to_string());
                    sender.send(Queued::Write(write, Maker::Task(row)));
                }
                let (done, answer) = oneshot::channel();
                sender.send(Queued::Flush(done));
                loom::future::block_on(answer)
                    .expect("the writer dropped a flush")
                    .expect("the flush failed");
            }
        };
        let other = thread::spawn(task(1));
        task(0)();
        other.join().unwrap();
        drop(sender);
        let applied = writer.join().unwrap();
        for row in ["row 0", "row 1"] {
            let seqs: Vec<&str> = applied
                .iter()
                .filter(|(id, _)| id == row)
                .map(|(_, seq)| seq.as_str())
                .collect();
            assert_eq!(
                seqs,
                ["0", "1"],
                "{row}'s writes lost, repeated or reordered"
            );
        }
        assert_eq!(applied.len(), 4);
    });
}
