// Every way to start a task that no #[lock_scope] checks, handed a permit or a guard: each is
// reported at its spawn, with the fix.
use fixpoint::{
    lock::{Mutex, Semaphore},
    lock_scope,
};

#[lock_scope(no_unbounded_await)]
async fn blocking(pool: Semaphore) {
    let permit = pool.acquire(&lock_scope).await;
    tokio::task::spawn_blocking(move || drop(permit));
}

#[lock_scope(no_unbounded_await)]
async fn join_set(pool: Semaphore) {
    let mut tasks = tokio::task::JoinSet::new();
    let permit = pool.acquire(&lock_scope).await;
    tasks.spawn(async move { drop(permit) });
}

#[lock_scope(no_unbounded_await)]
async fn local(pool: Semaphore) {
    let permit = pool.acquire(&lock_scope).await;
    tokio::task::spawn_local(async move { drop(permit) });
}

#[lock_scope(no_unbounded_await)]
async fn stored_closure(pool: Semaphore) {
    let permit = pool.acquire(&lock_scope).await;
    let release = move || drop(permit);
    tokio::task::spawn_blocking(release);
}

async fn serve(permit: fixpoint::lock::Permit<'_>) {
    drop(permit);
}

#[lock_scope(no_unbounded_await)]
async fn stored_future(pool: Semaphore) {
    let permit = pool.acquire(&lock_scope).await;
    let work = serve(permit);
    tokio::spawn(work);
}

#[lock_scope(no_unbounded_await)]
async fn guard(answers: Mutex<Vec<String>>) {
    let guard = answers.lock(&lock_scope).await;
    tokio::spawn(async move { drop(guard) });
}

fn main() {}
