//! Finishing reader sessions, group-committed: concurrent consent steps are queued and written by one task, many
//! per batch. A batch marks its sessions done (compare-and-set, so a replay finishes nothing) in a transaction of
//! the reader's own schema, appends the consents to the consent service's log through its port, and commits
//! only when the log took them: a failure leaves every session of the batch waiting for consent, nothing half
//! applied.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDateTime;
use sqlx::PgPool;

use onshi_consent::chain::Given;
use onshi_consent::port::CardReaderPort;
use onshi_consent::Kind;
use onshi_platform::supervise::Tasks;

/// A session to finish with the consents given in it.
#[derive(Debug, Clone)]
pub struct Finish {
    pub session: String,
    pub facility: String,
    pub kinds: Vec<Kind>,
    pub at: NaiveDateTime,
    /// End of the viewing period the consents give.
    pub until: NaiveDateTime,
    /// Sessions created before this have timed out.
    pub deadline: NaiveDateTime,
}

type Reply = tokio::sync::oneshot::Sender<Result<Option<String>, String>>;

/// The queue of sessions to finish.
#[derive(Clone)]
pub struct Finisher {
    queue: tokio::sync::mpsc::Sender<(Finish, Reply)>,
}

/// Most sessions finished in one batch.
const BATCH: usize = 512;

impl Finisher {
    /// Starts the writer task, supervised: after a failure it is restarted on the same queue (the sessions of
    /// the failed batch get an error; none is half-finished).
    pub fn start(pool: PgPool, consent: Arc<dyn CardReaderPort>, tasks: &Tasks) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel::<(Finish, Reply)>(4096);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        tasks.spawn("reader: session finisher", move || {
            write_batches(pool.clone(), consent.clone(), rx.clone())
        });
        Self { queue }
    }

    /// Marks the session done and records its consents; the person, or `None` when the session was not waiting
    /// for consent (replayed, timed out, or another facility's).
    pub async fn finish(&self, f: Finish) -> anyhow::Result<Option<String>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queue
            .send((f, tx))
            .await
            .map_err(|_| anyhow::anyhow!("the session finisher stopped"))?;
        rx.await?.map_err(anyhow::Error::msg)
    }
}

/// The writer: takes the queued sessions in batches and finishes them.
async fn write_batches(
    pool: PgPool,
    consent: Arc<dyn CardReaderPort>,
    rx: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<(Finish, Reply)>>>,
) {
    let mut rx = rx.lock().await;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(x) => batch.push(x),
                Err(_) => break,
            }
        }
        let (items, replies): (Vec<Finish>, Vec<Reply>) = batch.into_iter().unzip();
        match write_batch(&pool, consent.as_ref(), &items).await {
            Ok(people) => {
                for (reply, person) in replies.into_iter().zip(people) {
                    let _ = reply.send(Ok(person));
                }
            }
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "card reader: finishing a batch failed"
                );
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

async fn write_batch(
    pool: &PgPool,
    consent: &dyn CardReaderPort,
    items: &[Finish],
) -> anyhow::Result<Vec<Option<String>>> {
    let mut tx = pool.begin().await?;
    let advanced: Vec<(String, String)> = sqlx::query_as(
        "UPDATE reader.sessions s SET state = 'done', updated_at = u.at \
         FROM UNNEST($1::text[], $2::text[], $3::timestamp[], $4::timestamp[]) AS u(id, facility, at, deadline) \
         WHERE s.id = u.id AND s.facility = u.facility AND s.state = 'consent' AND s.created_at > u.deadline \
         RETURNING s.id, s.person_id",
    )
    .bind(items.iter().map(|i| i.session.clone()).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.facility.clone()).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.at).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.deadline).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let mut person_of: HashMap<String, String> = advanced.into_iter().collect();
    // The first request of a session in the batch gets it; a concurrent replay does not.
    let people: Vec<Option<String>> = items.iter().map(|i| person_of.remove(&i.session)).collect();
    let given: Vec<Given> = items
        .iter()
        .zip(&people)
        .filter_map(|(i, person)| {
            Some(Given {
                person: person.clone()?,
                facility: i.facility.clone(),
                kinds: i.kinds.clone(),
                at: i.at,
                until: i.until,
                session: i.session.clone(),
            })
        })
        .collect();
    if !given.is_empty() {
        consent.record_consents(&given).await?;
    }
    tx.commit().await?;
    Ok(people)
}
