use fixpoint::bus::Registry;

fn main() {
    let tabs: Registry<&str, String> = Registry::new();
    let inserted = tabs.insert("alice", "connection 1".to_owned());
    let _ = tabs.remove(inserted.ticket);
    let _ = tabs.remove(inserted.ticket);
}
