use fixpoint::bus::Subscription;

fn cleanup(answer: &Subscription<u64, String>) {
    let _closed = answer.close();
}

fn main() {}
