use fixpoint::bus::Subscription;

async fn peek(answer: &Subscription<u64, String>) {
    let _reply = answer.wait(|| None).await;
}

fn main() {}
