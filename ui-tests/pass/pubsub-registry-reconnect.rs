use fixpoint::{bus::{Registry, RemoveError, Ticket}};

struct Connection(&'static str);

impl Connection {
    fn close(self) -> &'static str {
        self.0
    }
}

/// A tab's cleanup callback keeps the ticket of the connection it was created for.
fn cleanup(tabs: &Registry<&'static str, Connection>, ticket: Ticket<&'static str>) -> Option<&'static str> {
    tabs.remove(ticket).ok().map(Connection::close)
}

fn main() {
    let tabs = Registry::new();
    let first = tabs.insert("alice", Connection("tab 1"));
    assert!(first.replaced.is_none());
    let second = tabs.insert("alice", Connection("tab 2"));
    assert_eq!(second.replaced.map(Connection::close), Some("tab 1"));
    assert_eq!(cleanup(&tabs, first.ticket), None); // stale: the fresh tab stays
    assert!(tabs.with(&"alice", |c| c.0 == "tab 2").unwrap());
    assert_eq!(cleanup(&tabs, second.ticket), Some("tab 2"));
    let _: Option<RemoveError> = None;
}
