//! A batch split into lanes by row, applied as that many batches at once: a store with several
//! connections ([`StatusStore::parallel_batches`]) commits them side by side, and each row's
//! writes stay in one lane, in order.

use core::future::Future;
use core::pin::Pin;
use core::task::Poll;

use super::queue::Maker;
use crate::lifecycle::Lifecycle;
use crate::store::{Refused, RowWrite, StatusStore, StoreError};

/// The lane of row `id` among `lanes`: the same for every write of the row (FNV-1a over its
/// bytes; the ids of a burst spread evenly enough, and no caller chooses a lane).
pub(super) fn lane_of(id: &str, lanes: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // `lanes` is small: the remainder of a 64-bit hash is as even as its bits.
    usize::try_from(hash % lanes as u64).unwrap_or(0)
}

/// The writes of one lane of a batch, and who made each.
pub(super) struct Lane<L> {
    pub(super) writes: Vec<RowWrite<L>>,
    pub(super) makers: Vec<Maker<L>>,
}

/// Applies every lane's writes at once, one `apply` per lane that has any, and answers per
/// lane (an empty lane applied nothing and refused nothing).
pub(super) async fn apply_all<L, S>(
    store: &S,
    owner: &str,
    lanes: &[Lane<L>],
) -> Vec<Result<Refused, StoreError>>
where
    L: Lifecycle,
    S: StatusStore<L>,
{
    if let [lane] = lanes {
        let writes = &lane.writes;
        return vec![if writes.is_empty() {
            Ok(Vec::new())
        } else {
            store.apply(owner, writes).await
        }];
    }
    let mut applying: Vec<Option<Pin<Box<_>>>> = lanes
        .iter()
        .map(|lane| {
            let writes = &lane.writes;
            (!writes.is_empty()).then(|| Box::pin(store.apply(owner, writes)))
        })
        .collect();
    let mut answers: Vec<Option<Result<Refused, StoreError>>> = applying
        .iter()
        .map(|lane| lane.is_none().then(|| Ok(Vec::new())))
        .collect();
    core::future::poll_fn(|cx| {
        let mut waiting = false;
        for (lane, answer) in applying.iter_mut().zip(answers.iter_mut()) {
            if let Some(future) = lane {
                match future.as_mut().poll(cx) {
                    Poll::Ready(applied) => {
                        *answer = Some(applied);
                        *lane = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    answers
        .into_iter()
        .map(|answer| answer.unwrap_or_else(|| Ok(Vec::new())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::lane_of;

    /// A row always takes the same lane, and the ids of a burst use every lane, evenly.
    #[test]
    fn rows_keep_their_lane_and_bursts_spread() {
        let mut counts = [0usize; 3];
        for n in 0..30_000 {
            let id = format!("task-{n}");
            let lane = lane_of(&id, 3);
            assert_eq!(lane, lane_of(&id, 3));
            counts[lane] += 1;
        }
        for count in counts {
            assert!((9_000..11_000).contains(&count), "{counts:?}");
        }
        assert_eq!(lane_of("any", 1), 0);
    }
}
