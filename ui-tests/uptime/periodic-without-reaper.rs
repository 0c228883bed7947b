use std::time::Duration;

use fixpoint::uptime::Periodic;

async fn deploys() {
    // Each deploy leaves an image behind, and nothing reaps them until the disk fills.
    let _ = Periodic::every(Duration::from_secs(3600))
        .run(|| async { Ok::<_, std::io::Error>(()) })
        .start()
        .await;
}

fn main() {
    let _ = deploys;
}
