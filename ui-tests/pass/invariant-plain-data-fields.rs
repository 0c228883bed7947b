use std::collections::{BTreeMap, HashSet};
use std::marker::PhantomData;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use fixpoint::{invariant, invariant::Checked};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Running,
    Done { code: i32 },
}

/// Plain data of the user's own: no cell inside.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    name: String,
    ids: Vec<u64>,
}

/// Named like a cell, but plain data: names are matched exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellId(u32);

/// Every field is read by a rule, and none can change behind `&`.
#[invariant(!self.name.is_empty() && self.bytes.len() < 1024, "a record is named and small")]
#[invariant(self.status != Status::Done { code: 1 } || self.count.is_some(), "a failure is counted")]
#[invariant(!self.owner.name.is_empty() && self.owner.ids.len() < 8, "an owner is named")]
#[invariant(self.pair.0 <= self.pair.1 && self.grid[0][0] == 0, "a pair is ordered")]
#[invariant(self.tags.len() <= 4 && self.seen.len() <= 4, "at most four tags")]
#[invariant(self.shared.len() < 64 && self.counted.len() < 64, "shared text is short")]
#[invariant(self.boxed.len() < 64 && self.slice.len() < 64, "boxed text is short")]
#[invariant(self.cell_id.0 < 100 && self.marker == PhantomData, "a cell id is small")]
#[invariant((self.pick)(2) == 4 && self.source.len() < 64, "doubling and a short source")]
#[invariant(self.statuses.iter().all(|s| *s != Status::Running), "no status is running")]
#[invariant(self.cause.as_ref().is_none_or(|c| !c.to_string().is_empty()), "a cause says something")]
pub struct Record<'a> {
    name: String,
    bytes: Vec<u8>,
    status: Status,
    count: Option<u32>,
    owner: Owner,
    pair: (u8, u8),
    grid: [[u8; 2]; 2],
    tags: BTreeMap<String, Vec<Option<u64>>>,
    seen: HashSet<u32>,
    shared: Arc<String>,
    counted: Rc<[u8]>,
    boxed: Box<str>,
    slice: &'a [u16],
    cell_id: CellId,
    marker: PhantomData<Cell<u8>>,
    pick: fn(u32) -> u32,
    source: &'static str,
    statuses: Vec<Status>,
    // A trait object that promises no cell.
    cause: Option<Box<dyn std::error::Error + Send + Sync + std::panic::RefUnwindSafe>>,
}

/// A generic struct over plain data.
#[invariant(self.items.len() <= N, "at most N items")]
pub struct Bounded<T, const N: usize> {
    items: Vec<T>,
}

fn main() {
    let slice = [1_u16, 2];
    let record = Checked::new(Record {
        name: "r".to_owned(),
        bytes: vec![1, 2, 3],
        status: Status::Running,
        count: None,
        owner: Owner { name: "o".to_owned(), ids: vec![1] },
        pair: (1, 2),
        grid: [[0, 1], [2, 3]],
        tags: BTreeMap::new(),
        seen: HashSet::new(),
        shared: Arc::new("s".to_owned()),
        counted: Rc::from(&[1_u8][..]),
        boxed: "b".into(),
        slice: &slice,
        cell_id: CellId(7),
        marker: PhantomData,
        pick: |x| x * 2,
        source: "src",
        statuses: vec![Status::Done { code: 0 }],
        cause: None,
    });
    assert!(record.is_ok());
    let bounded = Checked::new(Bounded::<String, 2> { items: vec!["a".to_owned()] });
    assert!(bounded.is_ok());
}
