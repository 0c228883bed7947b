use fixpoint::bus::Bus;

async fn wait_for_answer(answers: &Bus<u64, String>) -> String {
    answers.wait(&7).await
}

fn main() {}
