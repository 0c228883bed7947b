//! `Registry`: the tickets that decide which handle a removal may take.

use loom::sync::Arc;
use loom::thread;

use crate::bus::{Registry, RemoveError};

/// Two connections of one key register and clean up at the same time: a removal only ever
/// takes the handle its own insertion put there (a stale ticket never removes a fresh
/// handle), and every handle is handed back exactly once, by its removal, as the one another
/// insertion replaced, or by the final drain, so each is closed exactly once.
#[test]
fn a_stale_ticket_never_removes_a_fresh_handle() {
    loom::model(|| {
        let registry = Arc::new(Registry::<&'static str, u32>::new());
        let connect = |handle: u32| {
            let registry = registry.clone();
            move || {
                let insertion = registry.insert("alice", handle);
                let mut handed_back: Vec<u32> = insertion.replaced.into_iter().collect();
                match registry.remove(insertion.ticket) {
                    Ok(removed) => {
                        assert_eq!(
                            removed, handle,
                            "a ticket removed another insertion's handle"
                        );
                        handed_back.push(removed);
                    }
                    Err(RemoveError::Stale) => {}
                    Err(other) => panic!("{other:?}"),
                }
                handed_back
            }
        };
        let other = thread::spawn(connect(2));
        let mut handed_back = connect(1)();
        handed_back.extend(other.join().unwrap());
        handed_back.extend(registry.drain().into_iter().map(|(_, handle)| handle));
        handed_back.sort_unstable();
        assert_eq!(
            handed_back,
            [1, 2],
            "a handle was lost or handed back twice"
        );
    });
}
