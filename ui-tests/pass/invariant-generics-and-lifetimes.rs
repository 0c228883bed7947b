use fixpoint::{invariant, invariant::Checked};

/// A window over sorted items: generic over the item and the borrow.
#[invariant(self.items.windows(2).all(|w| w[0] <= w[1]), "the items are sorted")]
#[invariant(self.cursor <= self.items.len(), "the cursor stays within the items")]
#[derive(Debug)]
pub struct Window<'a, T: Ord> {
    items: &'a [T],
    cursor: usize,
}

/// A tuple struct works too.
#[invariant(self.0 <= self.1, "a range is not inverted")]
#[derive(Debug, Clone, Copy)]
pub struct Range(u32, u32);

fn main() {
    let data = [1, 2, 3];
    let mut window = Checked::new(Window { items: &data[..], cursor: 0 }).unwrap();
    assert_eq!(window.set_cursor(3), Ok(0));
    assert_eq!(window.set_cursor(4).unwrap_err().into_rejected(), 4);
    assert_eq!(*window.cursor(), 3);
    let unsorted = [3, 1];
    assert!(Checked::new(Window { items: &unsorted[..], cursor: 0 }).is_err());

    let mut range = Checked::new(Range(1, 5)).unwrap();
    assert!(range.set_field_0(6).is_err());
    assert_eq!(range.set_field_1(9), Ok(5));
    assert_eq!((*range.field_0(), *range.field_1()), (1, 9));
}
