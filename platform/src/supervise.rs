//! Supervised background tasks: every long-running loop of a service (the folder watcher, feed followers, the
//! claims folder, the batch runner) runs under a supervisor that restarts it after a panic (after a second) and
//! records its state, which `/ready` reports. A task that can no longer run never goes unnoticed behind a
//! `/health` that says ok.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;

/// What `/ready` shows of one task.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TaskState {
    pub running: bool,
    pub restarts: u32,
    /// The last failure (a panic's message), if any.
    pub last_failure: Option<String>,
}

/// The supervised tasks of a process.
#[derive(Clone, Default)]
pub struct Tasks {
    states: Arc<Mutex<BTreeMap<&'static str, TaskState>>>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tasks({:?})", self.report())
    }
}

/// Aborts the supervised task when its supervisor is aborted (on shutdown).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Tasks {
    fn update(&self, name: &'static str, f: impl FnOnce(&mut TaskState)) {
        let mut states = self.states.lock().expect("tasks lock");
        f(states.entry(name).or_default());
    }

    /// Runs `make()` as task `name`, again after every panic; returns the supervisor's handle (abort it to stop
    /// both). A task that returns is done and leaves the report.
    pub fn spawn<F, Fut>(&self, name: &'static str, make: F) -> JoinHandle<()>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tasks = self.clone();
        tokio::spawn(async move {
            loop {
                tasks.update(name, |s| s.running = true);
                let mut task = AbortOnDrop(tokio::spawn(make()));
                let outcome = (&mut task.0).await;
                match outcome {
                    Ok(()) => {
                        tasks.states.lock().expect("tasks lock").remove(name);
                        return;
                    }
                    Err(e) if e.is_cancelled() => return,
                    Err(e) => {
                        let why = e
                            .into_panic()
                            .downcast::<String>()
                            .map(|s| *s)
                            .or_else(|p| p.downcast::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|_| "a panic".to_string());
                        tracing::error!(task = name, failure = %why, "background task failed; restarting it");
                        tasks.update(name, |s| {
                            s.running = false;
                            s.restarts += 1;
                            s.last_failure = Some(why);
                        });
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    }

    /// Whether every task is running, and each one's state.
    pub fn report(&self) -> (bool, BTreeMap<&'static str, TaskState>) {
        let states = self.states.lock().expect("tasks lock").clone();
        (states.values().all(|s| s.running), states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_task_that_panics_is_restarted_and_reported() {
        let tasks = Tasks::default();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let handle = tasks.spawn("flaky", move || {
            let r = r.clone();
            async move {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("boom");
                }
                std::future::pending::<()>().await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (ready, states) = tasks.report();
        assert!(!ready, "down until restarted: {states:?}");
        assert_eq!(states["flaky"].last_failure.as_deref(), Some("boom"));
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (ready, states) = tasks.report();
        assert!(ready, "{states:?}");
        assert_eq!(
            (states["flaky"].restarts, runs.load(Ordering::SeqCst)),
            (1, 2)
        );
        handle.abort();
    }
}
