//! The follow-up race of the paper, on PostgreSQL `LISTEN`/`NOTIFY` across connections.
//!
//! A handler saved a follow-up question, and the user's answer came back from another
//! connection: recorded in `answers`, then announced with `NOTIFY`. The handler `LISTEN`ed only
//! after saving the question, so an answer that came in between went to a channel nobody
//! listened to, and the handler waited forever. With `fixpoint::bus::PgBus`, the wait is
//! built from a subscription whose `LISTEN` the server confirmed before the write, and it
//! re-checks the table first, so the answer is found whenever it came.
//!
//! Run it against a server you can create a table on:
//! `cargo run --example follow_up_pg --features postgres -- --postgres postgresql://user@localhost/db`

use std::time::Duration;

use fixpoint::bus::{PgBus, PgWaitError};
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// How long each handler waits here, so that the example ends; in production it had no bound.
const PATIENCE: Duration = Duration::from_millis(500);

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The user, on their own connection, answering at once: record, then announce.
async fn user_answers(user: &Client, question: i64) -> Result<(), Box<dyn std::error::Error>> {
    user.execute(
        "INSERT INTO follow_up_answers VALUES ($1, 'use the staging database')",
        &[&question],
    )
    .await?;
    PgBus::publish_in(
        user,
        &format!("answer-{question}"),
        "use the staging database",
    )
    .await?;
    Ok(())
}

/// Before: save the question (the user answers at once), then LISTEN, then wait.
async fn handler_before(
    url: &str,
    user: &Client,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let (handler, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (sender, mut notes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(note) = message {
                let _ = sender.send(note.payload().to_owned());
            }
        }
    });
    user_answers(user, 1).await?; // saving the question reached the user, who answered
    handler.batch_execute("LISTEN \"answer-1\"").await?; // then the handler listens
    Ok(tokio::time::timeout(PATIENCE, notes.recv())
        .await
        .ok()
        .flatten())
}

/// After: subscribe (LISTEN confirmed), save the question, re-check the table, wait.
async fn handler_after(
    bus: &PgBus,
    reader: &Client,
    user: &Client,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut answer = bus.subscribe("answer-2").await?;
    user_answers(user, 2).await?;
    let recheck = || async move {
        let row = reader
            .query_opt(
                "SELECT answer FROM follow_up_answers WHERE question = 2",
                &[],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    };
    Ok(answer.wait_within(PATIENCE, recheck).await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = match (args.next().as_deref(), args.next()) {
        (Some("--postgres"), Some(url)) => url,
        _ => {
            eprintln!("usage: follow_up_pg --postgres URL (a server where a table can be created)");
            std::process::exit(2);
        }
    };
    let setup = connect(&url).await?;
    setup
        .batch_execute(
            "DROP TABLE IF EXISTS follow_up_answers;
             CREATE TABLE follow_up_answers (question bigint PRIMARY KEY, answer text NOT NULL)",
        )
        .await?;

    println!("Before: write, then LISTEN");
    match handler_before(&url, &setup).await? {
        Some(answer) => println!("  got {answer:?} (unexpected: NOTIFY keeps nothing for later)"),
        None => println!(
            "  nothing within {PATIENCE:?}: the answer was announced before the LISTEN and is lost"
        ),
    }

    println!("After: subscribe (LISTEN confirmed), write, re-check, wait");
    let bus = PgBus::connect(&url).await?;
    let reader = connect(&url).await?;
    match handler_after(&bus, &reader, &setup).await {
        Ok(answer) => println!("  got {answer:?}"),
        Err(error) => match error.downcast_ref::<PgWaitError>() {
            Some(PgWaitError::TimedOut { .. }) => println!("  unexpected: {error}"),
            _ => return Err(error),
        },
    }

    // An answer recorded before the subscription (a reconnect, a late handler) is found by
    // the re-check; nothing is announced again.
    let mut late = bus.subscribe("answer-1").await?;
    let found = late
        .wait_within(PATIENCE, || async {
            let row = reader
                .query_opt(
                    "SELECT answer FROM follow_up_answers WHERE question = 1",
                    &[],
                )
                .await?;
            Ok(row.map(|row| row.get(0)))
        })
        .await?;
    println!("  the answer lost above, recorded earlier, found by the re-check: {found:?}");
    setup.batch_execute("DROP TABLE follow_up_answers").await?;
    Ok(())
}
