use fixpoint::bus::Bus;

async fn wait_for_answer(answers: &Bus<u64, String>) {
    let closed = answers.subscribe(7).close();
    let _reply = closed.wait(|| None).await;
}

fn main() {}
