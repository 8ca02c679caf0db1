//! Run creation before bookkeeping (I/O state): while other Jobs have fires due, a Job's status,
//! Events and deletions wait in memory (see the module documentation of the Job controller).

use super::*;

impl Context {
    /// Jobs whose fire is due (or about to be) and not handled, by the status this controller
    /// last computed.
    pub(super) fn due_jobs(&self) -> DueJobs {
        let mut cache = self.due.lock().expect("due lock");
        if let Some((at, due)) = cache.as_ref()
            && at.elapsed() < FLUSH_EVERY
        {
            return due.clone();
        }
        // Fires within the cache's lifetime count already: a list computed just before a fire
        // must not say "nothing due" for its first moments.
        let now = Utc::now() + chrono::Duration::from_std(FLUSH_EVERY).unwrap_or_default();
        let window = chrono::Duration::seconds(DUE_WINDOW_SECS);
        let deferred = self.deferred.lock().expect("deferred lock");
        let due: Vec<ObjectRef<Job>> = self
            .jobs
            .state()
            .iter()
            .filter_map(|j| {
                let r = ObjectRef::from_obj(j.as_ref());
                let status = match deferred.get(&r) {
                    Some(d) if d.resource_version == j.metadata.resource_version => Some(&d.status),
                    _ => j.status.as_ref(),
                };
                status.is_some_and(|s| runs::fire_pending(s, now, window)).then_some(r)
            })
            .collect();
        let due = Arc::new(due);
        *cache = Some((Instant::now(), due.clone()));
        due
    }

    /// Whether run creations of Jobs other than `except` are under way or due.
    pub(super) fn burst(&self, except: Option<&ObjectRef<Job>>) -> bool {
        self.creating.load(Ordering::SeqCst) > 0 || self.due_jobs().iter().any(|r| Some(r) != except)
    }

    pub(super) fn created_recently(&self, ns: &str, name: &str) -> bool {
        let created = self.created.lock().expect("created lock");
        created.get(&format!("{ns}/{name}")).is_some_and(|t| t.elapsed() < TRUST_CREATED)
    }

    pub(super) fn note_created(&self, ns: &str, name: &str) {
        let mut created = self.created.lock().expect("created lock");
        if created.len() >= 1024 && created.len().is_power_of_two() {
            created.retain(|_, t| t.elapsed() < TRUST_CREATED);
        }
        created.insert(format!("{ns}/{name}"), Instant::now());
    }

    /// Deferred Jobs whose write may go now (burst over or waited long enough), marked as sent.
    pub(super) fn flushable(&self) -> Vec<ObjectRef<Job>> {
        {
            let mut deferred = self.deferred.lock().expect("deferred lock");
            // A Job deleted meanwhile has nothing left to write.
            deferred.retain(|r, _| self.jobs.get(r).is_some());
            if deferred.values().all(|d| d.flushing) {
                return vec![];
            }
        }
        let burst = self.burst(None);
        let mut deferred = self.deferred.lock().expect("deferred lock");
        deferred
            .iter_mut()
            .filter(|(_, d)| !d.flushing && (!burst || d.since.elapsed() >= MAX_DEFER))
            .map(|(r, d)| {
                d.flushing = true;
                r.clone()
            })
            .collect()
    }

    /// Keeps a decision's status, events and deletions, computed from `job`, for later.
    pub(super) fn keep(&self, key: ObjectRef<Job>, job: &Job, d: Decision, since: Instant) {
        let deferred = Deferred {
            resource_version: job.metadata.resource_version.clone(),
            status: d.status,
            events: d.events,
            delete: d.delete,
            since,
            flushing: false,
        };
        self.deferred.lock().expect("deferred lock").insert(key, deferred);
    }

    /// Statuses computed and not written yet (for tests and benchmarks).
    pub fn deferred_len(&self) -> usize {
        self.deferred.lock().expect("deferred lock").len()
    }
}

/// Puts back a deferred status a failed reconcile took (it is still the newest computed).
pub(super) fn restore(ctx: &Context, key: ObjectRef<Job>, carried: Option<Deferred>) {
    if let Some(mut d) = carried {
        d.flushing = false;
        ctx.deferred.lock().expect("deferred lock").insert(key, d);
    }
}

/// Events published at once.
const EVENT_PUBLISHERS: usize = 4;

pub(super) async fn publish_events(recorder: Recorder, queue: futures::channel::mpsc::UnboundedReceiver<EventBatch>) {
    queue
        .for_each_concurrent(EVENT_PUBLISHERS, |(reference, events)| {
            let recorder = recorder.clone();
            async move {
                for e in events {
                    if matches!(e.reason, "RunMissed" | "RunSkipped") {
                        let ns = reference.namespace.as_deref().unwrap_or_default();
                        let name = reference.name.as_deref().unwrap_or_default();
                        crate::metrics::job_run_skipped(ns, name, e.reason);
                    }
                    let ev = Event {
                        type_: if e.warning { EventType::Warning } else { EventType::Normal },
                        reason: e.reason.into(),
                        note: Some(e.message.chars().take(1000).collect()),
                        action: "Run".into(),
                        secondary: None,
                    };
                    if let Err(err) = recorder.publish(&ev, &reference).await {
                        tracing::debug!("event: {err}");
                    }
                }
            }
        })
        .await
}
