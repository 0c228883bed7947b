//! The `main` of every bench that counts instructions, written once.
//!
//! `FIXPOINT_COUNT=<side> valgrind --tool=callgrind <bench>` runs that side's fixed rounds
//! (the bench's `count`) instead of criterion, so callgrind counts the same work every time;
//! without the variable, the bench's criterion group runs as `cargo bench` expects.

/// `fn main`: `count(side)` under `FIXPOINT_COUNT=<side>`, criterion's `benches` otherwise.
macro_rules! counted_main {
    ($benches:path, $count:path) => {
        fn main() {
            if let Ok(side) = std::env::var("FIXPOINT_COUNT") {
                $count(&side);
                return;
            }
            $benches();
            criterion::Criterion::default()
                .configure_from_args()
                .final_summary();
        }
    };
}
