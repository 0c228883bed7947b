use std::time::Duration;

use fixpoint::uptime::Periodic;

async fn reaper_alone() {
    // A reaper with no job to reap after.
    let _ = Periodic::every(Duration::from_secs(3600))
        .reap(|| async { Ok::<_, std::io::Error>(()) })
        .start()
        .await;
}

fn main() {
    let _ = reaper_alone;
}
