//! Sub-millisecond send times. tokio's timer has a resolution of 1 ms, which would add up to a millisecond of the
//! generator's own delay to every latency counted from the scheduled time. A connection waits with tokio's timer
//! until shortly before its send time, then hands the last stretch to the pacer: one thread holding the pending
//! wake-ups in a heap and sleeping on a futex until the earliest (Linux's timer slack, ~50 µs).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

struct Wake {
    due: Instant,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Wake {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl Eq for Wake {}
impl PartialOrd for Wake {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Wake {
    /// Earliest first in a max-heap.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.due, o.seq).cmp(&(self.due, self.seq))
    }
}

/// The pacer thread's handle; the thread ends when every handle is gone.
pub struct Pacer {
    tx: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

/// How long before its time a connection hands over from tokio's timer.
const HANDOVER: Duration = Duration::from_micros(1_500);

impl Pacer {
    pub fn start() -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::Builder::new()
            .name("onshi-load pacer".into())
            .spawn(move || {
                let mut heap: BinaryHeap<Wake> = BinaryHeap::new();
                let mut seq = 0u64;
                loop {
                    let next = match heap.peek() {
                        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                        Some(w) => rx.recv_timeout(w.due.saturating_duration_since(Instant::now())),
                    };
                    match next {
                        Ok((due, tx)) => {
                            seq += 1;
                            heap.push(Wake { due, seq, tx });
                            while let Ok((due, tx)) = rx.try_recv() {
                                seq += 1;
                                heap.push(Wake { due, seq, tx });
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) if heap.is_empty() => return,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            std::thread::sleep(heap.peek().map_or(Duration::ZERO, |w| {
                                w.due.saturating_duration_since(Instant::now())
                            }))
                        }
                    }
                    let now = Instant::now();
                    while heap.peek().is_some_and(|w| w.due <= now) {
                        if let Some(w) = heap.pop() {
                            let _ = w.tx.send(());
                        }
                    }
                }
            })?;
        Ok(Self { tx })
    }

    /// Returns at `due` (give or take the machine's timer slack), or at once when it has passed.
    pub async fn until(&self, due: Instant) {
        let now = Instant::now();
        if due <= now {
            return;
        }
        if due - now > HANDOVER {
            tokio::time::sleep_until((due - HANDOVER).into()).await;
        }
        if Instant::now() >= due {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send((due, tx)).is_err() {
            tokio::time::sleep_until(due.into()).await;
            return;
        }
        let _ = rx.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn wake_ups_come_in_order_and_well_under_a_millisecond_late() {
        let p = Pacer::start().unwrap();
        let start = Instant::now();
        let mut late = Vec::new();
        for i in 1..=200u64 {
            let due = start + Duration::from_micros(i * 730);
            p.until(due).await;
            let now = Instant::now();
            assert!(now >= due);
            late.push(now - due);
        }
        late.sort();
        // tokio's timer alone is ~0.5 ms late at the median; the pacer is bounded by the timer slack.
        assert!(late[100] < Duration::from_micros(300), "{:?}", late[100]);
    }
}
