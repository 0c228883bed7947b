use fixpoint::bus::Registry;

fn on_tab_closed(tabs: &Registry<&'static str, String>, user: &'static str) {
    let _ = tabs.remove(user);
}

fn main() {}
