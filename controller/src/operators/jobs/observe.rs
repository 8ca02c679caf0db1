//! What the cluster shows of a Job (pure reads of cached objects): its attempts, and the Jobs
//! its parents and dependencies name.

use super::*;

/// Jobs whose parents or dependencies name `parent`.
pub(super) fn children(store: &Store<Job>, parent: &Job) -> Vec<ObjectRef<Job>> {
    let ns = parent.namespace().unwrap_or_default();
    let name = parent.name_any();
    store
        .state()
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(ns.as_str()))
        .filter(|j| {
            refs(j).any(|r| {
                resolve(store, &ns, r).is_some_and(|p| p.name_any() == name && p.namespace() == Some(ns.clone()))
            })
        })
        .map(|j| ObjectRef::from_obj(j.as_ref()))
        .collect()
}

pub(super) fn refs(job: &Job) -> impl Iterator<Item = &str> {
    job.spec.parents.iter().map(String::as_str).chain(job.spec.dependencies.iter().map(|d| d.id.as_str()))
}

/// Resolves a parent reference as validation does: a Job name in the namespace, a Job whose
/// `spec.id` is the reference, or a dotted/slashed id naming namespace and name.
pub(super) fn resolve(store: &Store<Job>, ns: &str, r: &str) -> Option<Arc<Job>> {
    if let Some(j) = store.get(&ObjectRef::new(r).within(ns)) {
        return Some(j);
    }
    if let Some(j) =
        store.state().into_iter().find(|j| j.namespace().as_deref() == Some(ns) && j.spec.id.as_deref() == Some(r))
    {
        return Some(j);
    }
    let segs = dromos_core::ids::parse_job_id(r).ok()?;
    let loc = dromos_core::ids::location_of(&segs);
    store.get(&ObjectRef::new(&loc.name).within(loc.namespace.as_deref().unwrap_or(ns)))
}

pub(super) fn to_chrono(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.0.as_millisecond()).unwrap_or_default()
}

/// What the cluster shows of one attempt.
pub(super) fn observe(b: &BatchJob, pods: &[Arc<Pod>]) -> Option<AttemptState> {
    let labels = b.labels();
    let annotations = b.annotations();
    let run = labels.get(runs::RUN_LABEL)?.clone();
    let name = b.name_any();
    let status = b.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let cond = |t: &str| conditions.iter().find(|c| c.type_ == t && c.status == "True");
    let finished = if let Some(c) = cond("Complete") {
        let at = status.completion_time.as_ref().or(c.last_transition_time.as_ref()).map(to_chrono);
        Some(Finished { at: at.unwrap_or_else(Utc::now), succeeded: true, reason: String::new() })
    } else {
        cond("Failed").map(|c| Finished {
            at: c.last_transition_time.as_ref().map(to_chrono).unwrap_or_else(Utc::now),
            succeeded: false,
            reason: format!(
                "{}: {}",
                c.reason.as_deref().unwrap_or("Failed"),
                c.message.as_deref().unwrap_or("the Job failed")
            ),
        })
    };
    let mine: Vec<&Arc<Pod>> =
        pods.iter().filter(|p| p.labels().get("batch.kubernetes.io/job-name") == Some(&name)).collect();
    let started = mine
        .iter()
        .filter_map(|p| p.status.as_ref()?.start_time.as_ref().map(to_chrono))
        .min()
        .or_else(|| finished.as_ref().and(status.start_time.as_ref().map(to_chrono)));
    let waiting = mine.iter().find_map(|p| {
        let c = p
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
        Some(format!("{} ({})", c.message.clone().unwrap_or_default(), c.reason.clone().unwrap_or_default()))
    });
    Some(AttemptState {
        name,
        run,
        attempt: annotations.get(runs::ATTEMPT_ANNOTATION).and_then(|a| a.parse().ok()).unwrap_or(1),
        trigger: annotations.get(runs::TRIGGER_ANNOTATION).and_then(|t| RunTrigger::parse(t)),
        scheduled: annotations.get(runs::SCHEDULED_ANNOTATION).and_then(|s| runs::parse_time(s)),
        created: b.metadata.creation_timestamp.as_ref().map(to_chrono).unwrap_or_else(Utc::now),
        started,
        finished,
        waiting,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(v: serde_json::Value) -> BatchJob {
        serde_json::from_value(v).expect("batch job")
    }

    #[test]
    fn attempts_are_read_from_the_batch_job_and_its_pod() {
        let b = batch(serde_json::json!({
            "metadata": {"name": "backup-1777629600-2", "namespace": "ops", "creationTimestamp": "2026-05-01T10:00:15Z",
                "labels": {"dromos.io/job": "backup", "dromos.io/run": "backup-1777629600"},
                "annotations": {"dromos.io/attempt": "2", "dromos.io/trigger": "schedule",
                                "dromos.io/scheduled-time": "2026-05-01T10:00:00Z"}},
            "status": {"startTime": "2026-05-01T10:00:15Z", "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": "2026-05-01T10:00:20Z"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-05-01T10:00:21Z"}]}
        }));
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ops", "labels": {"batch.kubernetes.io/job-name": "backup-1777629600-2"}},
            "status": {"startTime": "2026-05-01T10:00:16Z"}
        }))
        .unwrap();
        let a = observe(&b, &[Arc::new(pod)]).expect("an attempt");
        assert_eq!((a.run.as_str(), a.attempt, a.trigger), ("backup-1777629600", 2, Some(RunTrigger::Schedule)));
        assert_eq!(a.scheduled, runs::parse_time("2026-05-01T10:00:00Z"));
        assert_eq!(a.started, runs::parse_time("2026-05-01T10:00:16Z"));
        let f = a.finished.expect("finished");
        assert!(!f.succeeded);
        assert_eq!(f.at, runs::parse_time("2026-05-01T10:00:21Z").unwrap());
        assert_eq!(f.reason, "BackoffLimitExceeded: Job has reached the specified backoff limit");

        // A pending pod: not started, with the scheduler's reason.
        let b = batch(serde_json::json!({
            "metadata": {"name": "backup-1", "namespace": "ops", "creationTimestamp": "2026-05-01T10:00:00Z",
                "labels": {"dromos.io/job": "backup", "dromos.io/run": "backup-1"}}
        }));
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ops", "labels": {"batch.kubernetes.io/job-name": "backup-1"}},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/4 nodes are available"}]}
        }))
        .unwrap();
        let a = observe(&b, &[Arc::new(pod)]).expect("an attempt");
        assert_eq!((a.attempt, a.started, a.finished), (1, None, None));
        assert_eq!(a.waiting.as_deref(), Some("0/4 nodes are available (Unschedulable)"));
        // Without the run label it is not an attempt.
        assert!(observe(&batch(serde_json::json!({"metadata": {"name": "x"}})), &[]).is_none());
    }

    #[test]
    fn the_history_table_lists_runs_newest_first() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Job",
            "metadata": {"name": "backup", "namespace": "ops"},
            "spec": {"run": {"cmd": "true"}},
            "status": {"trigger": "cron 0 * * * * UTC", "nextRunTime": "2026-05-01T11:00:00Z", "successCount": 1, "failureCount": 1,
                "runs": [
                    {"id": "backup-1777629600", "trigger": "schedule", "scheduledTime": "2026-05-01T10:00:00Z",
                     "result": "Failed", "attempts": 1, "message": "StartingDeadlineExceeded: ..."},
                    {"id": "backup-m1", "trigger": "manual", "startTime": "2026-05-01T09:00:01Z",
                     "finishTime": "2026-05-01T09:00:02Z", "result": "Succeeded", "attempts": 1}]}
        }))
        .unwrap();
        let t = history_table(&job);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "ops/backup  trigger: cron 0 * * * * UTC  next: 2026-05-01T11:00:00Z  succeeded: 1  failed: 1"
        );
        assert!(lines[1].starts_with("RUN") && lines[1].ends_with("MESSAGE"), "{t}");
        assert!(lines[2].starts_with("backup-1777629600  schedule") && lines[2].contains("Failed"), "{t}");
        assert!(lines[3].starts_with("backup-m1") && lines[3].contains("Succeeded"), "{t}");
        // Columns line up.
        assert_eq!(lines[1].find("RESULT"), lines[2].find("Failed"));
    }
}
