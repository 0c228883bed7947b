use fixpoint::{invariant, invariant::Checked};
use serde::{Deserialize, Serialize};

#[invariant(self.low <= self.high, "a range is not inverted")]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    low: u32,
    high: u32,
}

fn main() {
    let range = Checked::new(Range { low: 1, high: 4 }).unwrap();
    let json = serde_json::to_string(&range).unwrap();
    assert_eq!(json, r#"{"low":1,"high":4}"#);
    let back: Checked<Range> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, range);
    let error = serde_json::from_str::<Checked<Range>>(r#"{"low":5,"high":4}"#).unwrap_err();
    assert!(error.to_string().contains("Range breaks invariant #1: a range is not inverted"), "{error}");
}
