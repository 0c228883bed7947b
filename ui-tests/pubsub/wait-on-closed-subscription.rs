use fixpoint::bus::Bus;

async fn wait_for_answer(answers: &Bus<u64, String>) {
    let mut answer = answers.subscribe(7);
    let _closed = answer.close();
    let _reply = answer.wait(|| None).await;
}

fn main() {}
