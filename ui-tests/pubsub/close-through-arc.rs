use std::sync::Arc;

use fixpoint::bus::Subscription;

fn cleanup(answer: Arc<Subscription<u64, String>>) {
    let _closed = answer.close();
}

fn main() {}
