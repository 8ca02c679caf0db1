//! Tests of the run state machine (pure): a fake cluster steps [`plan_runs`] through fires,
//! attempts, retries and parents against a fixed clock.

use super::*;
use crate::time::Instant;
use dromos_crds::job::{
    ConcurrencyPolicy, CronSchedule, JobDependency, JobRun, JobSpec, JobStatus, RestartPolicy, RestartSpec,
};

fn t(s: &str) -> Instant {
    parse_time(s).unwrap_or_else(|| panic!("bad time {s}"))
}

/// A Chronos-style job on an ISO 8601 schedule running `cmd`.
fn iso(schedule: &str, cmd: &str) -> JobSpec {
    JobSpec {
        run: JobRun { cmd: Some(cmd.into()), ..Default::default() },
        schedule: Some(schedule.into()),
        ..Default::default()
    }
}

/// Attempt 1 of the scheduled run fired at `at`, as the cluster shows it.
fn scheduled_attempt(run: &str, at: &str, finished: Option<Finished>) -> AttemptState {
    AttemptState {
        name: run.into(),
        run: run.into(),
        attempt: 1,
        trigger: Some(RunTrigger::Schedule),
        scheduled: Some(t(at)),
        created: t(at),
        started: None,
        finished,
        waiting: None,
    }
}

fn cron(expr: &str) -> JobSpec {
    JobSpec {
        run: JobRun { cmd: Some("true".into()), ..Default::default() },
        schedules: vec![CronSchedule { cron: expr.into(), ..Default::default() }],
        ..Default::default()
    }
}

/// A fake cluster: attempts the decisions created, finished by the test.
struct Sim {
    spec: JobSpec,
    status: JobStatus,
    created: Instant,
    attempts: Vec<AttemptState>,
    parents: Vec<ParentState>,
    request: Option<String>,
    kill: Option<String>,
    gone: Vec<String>,
}

impl Sim {
    fn new(spec: JobSpec, created: &str) -> Self {
        Self {
            spec,
            status: JobStatus::default(),
            created: t(created),
            attempts: vec![],
            parents: vec![],
            request: None,
            kill: None,
            gone: vec![],
        }
    }

    fn step(&mut self, now: &str) -> Decision {
        let now = t(now);
        let d = plan_runs(&Inputs {
            name: "backup",
            spec: &self.spec,
            status: &self.status,
            generation: Some(1),
            created: self.created,
            run_request: self.request.as_deref(),
            kill_request: self.kill.as_deref(),
            attempts: &self.attempts,
            gone: &self.gone,
            parents: &self.parents,
            now,
        });
        for c in &d.create {
            if !self.attempts.iter().any(|a| a.name == c.name) {
                self.attempts.push(AttemptState {
                    name: c.name.clone(),
                    run: c.run.clone(),
                    attempt: c.attempt,
                    trigger: Some(c.trigger),
                    scheduled: c.scheduled,
                    created: now,
                    started: None,
                    finished: None,
                    waiting: None,
                });
            }
        }
        self.attempts.retain(|a| !d.delete.contains(&a.name));
        self.status = d.status.clone();
        d
    }

    fn start(&mut self, name: &str, at: &str) {
        self.attempts.iter_mut().find(|a| a.name == name).unwrap_or_else(|| panic!("no attempt {name}")).started =
            Some(t(at));
    }

    fn finish(&mut self, name: &str, at: &str, ok: bool) {
        let a = self.attempts.iter_mut().find(|a| a.name == name).unwrap_or_else(|| panic!("no attempt {name}"));
        a.started.get_or_insert(t(at));
        a.finished = Some(Finished { at: t(at), succeeded: ok, reason: if ok { "" } else { "exit 1" }.into() });
    }

    fn results(&self) -> Vec<(String, String)> {
        self.status.runs.iter().map(|r| (r.id.clone(), r.result.clone())).collect()
    }
}

fn names(d: &Decision) -> Vec<&str> {
    d.create.iter().map(|c| c.name.as_str()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn a_fire_is_pending_from_its_time_until_the_window_closes() {
    let at = |s: &str| parse_time(s).unwrap();
    let status = JobStatus { next_run_time: Some("2026-05-01T10:00:00Z".into()), ..Default::default() };
    let w = chrono::Duration::seconds(10);
    assert!(!fire_pending(&status, at("2026-05-01T09:59:59Z"), w), "not due yet");
    assert!(fire_pending(&status, at("2026-05-01T10:00:00Z"), w));
    assert!(fire_pending(&status, at("2026-05-01T10:00:09.900Z"), w));
    assert!(!fire_pending(&status, at("2026-05-01T10:00:10Z"), w), "window closed");
    assert!(!fire_pending(&JobStatus::default(), at("2026-05-01T10:00:00Z"), w), "no schedule");
}

#[test]
fn a_cron_job_fires_once_per_fire_and_records_the_result() {
    let mut s = Sim::new(cron("*/10 * * * *"), "2026-05-01T10:03:00Z");
    let d = s.step("2026-05-01T10:04:00Z");
    assert!(d.create.is_empty());
    assert_eq!(d.wake_at, Some(t("2026-05-01T10:10:00Z")));
    assert_eq!(s.status.next_run_time.as_deref(), Some("2026-05-01T10:10:00Z"));
    let d = s.step("2026-05-01T10:10:00.300Z");
    assert_eq!(names(&d), vec!["backup-1777630200"]);
    assert_eq!(d.create[0].scheduled, Some(t("2026-05-01T10:10:00Z")));
    // A second look at the same moment (or with a stale cache) creates nothing new.
    assert!(s.step("2026-05-01T10:10:01Z").create.is_empty());
    s.finish("backup-1777630200", "2026-05-01T10:11:00Z", true);
    let d = s.step("2026-05-01T10:11:01Z");
    assert_eq!(d.events.iter().map(|e| e.reason).collect::<Vec<_>>(), vec!["RunSucceeded"]);
    assert_eq!(s.status.success_count, 1);
    assert_eq!(s.status.last_result.as_deref(), Some("Succeeded"));
    assert_eq!(s.status.runs[0].start_time.as_deref(), Some("2026-05-01T10:11:00Z"));
    assert_eq!(s.status.runs[0].finish_time.as_deref(), Some("2026-05-01T10:11:00Z"));
    // Another look changes nothing.
    let before = s.status.clone();
    let d = s.step("2026-05-01T10:12:00Z");
    assert!(d.create.is_empty() && d.events.is_empty());
    assert_eq!(s.status, before);
}

#[test]
fn a_new_job_does_not_run_fires_from_before_it_existed() {
    let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T10:20:00Z");
    assert!(s.step("2026-05-01T10:20:01Z").create.is_empty());
    assert!(s.status.runs.is_empty());
}

#[test]
fn forbid_skips_a_fire_while_a_run_is_active_and_allow_overlaps() {
    let mut spec = cron("* * * * *");
    spec.schedules[0].concurrency_policy = Some(ConcurrencyPolicy::Forbid);
    let mut s = Sim::new(spec.clone(), "2026-05-01T09:00:00Z");
    assert_eq!(names(&s.step("2026-05-01T10:00:00Z")), vec!["backup-1777629600"]);
    s.start("backup-1777629600", "2026-05-01T10:00:02Z");
    let d = s.step("2026-05-01T10:01:00Z");
    assert!(d.create.is_empty());
    assert_eq!(d.events[0].reason, "RunSkipped");
    assert_eq!(s.results(), pairs(&[("backup-1777629660", "Skipped"), ("backup-1777629600", "Active")]));
    assert!(s.status.runs[0].message.as_deref().unwrap().contains("FORBID"));

    let mut s = Sim::new(cron("* * * * *"), "2026-05-01T09:00:00Z");
    s.step("2026-05-01T10:00:00Z");
    assert_eq!(names(&s.step("2026-05-01T10:01:00Z")), vec!["backup-1777629660"]);
}

#[test]
fn allow_caps_the_active_runs_so_hanging_runs_cannot_grow_the_status() {
    // A minutely ALLOW job whose runs never finish: 20 start, then fires are skipped, and the
    // status holds the 20 active runs plus at most the history limit of others.
    let mut s = Sim::new(cron("* * * * *"), "2026-05-01T09:00:00Z");
    let mut started = 0;
    let mut skipped = vec![];
    for minute in 0..40 {
        let at = format!("2026-05-01T10:{minute:02}:00Z");
        let d = s.step(&at);
        skipped.extend(d.events.iter().filter(|e| e.reason == "RunSkipped").map(|e| e.message.clone()));
        let created: Vec<String> = d.create.iter().map(|c| c.name.clone()).collect();
        started += created.len();
        for name in created {
            s.start(&name, &at); // the pod runs, and hangs
        }
    }
    assert_eq!(started, MAX_ACTIVE_RUNS);
    let active = s.status.runs.iter().filter(|r| r.result == "Active").count();
    assert_eq!(active, MAX_ACTIVE_RUNS);
    assert!(s.status.runs.len() <= MAX_ACTIVE_RUNS + HISTORY_LIMIT, "{}", s.status.runs.len());
    assert_eq!(skipped.len(), 40 - MAX_ACTIVE_RUNS, "one Warning per fire not run");
    assert!(skipped[0].contains("20 runs are active"), "{skipped:?}");
}

#[test]
fn after_downtime_at_most_one_catch_up_run_within_the_starting_deadline() {
    // Every 5 minutes; down from 10:02 to 10:33. Fires 10:05..10:30 were missed; 10:30 is
    // within the 900 s deadline: one run for it, nothing for the others.
    let mut s = Sim::new(cron("*/5 * * * *"), "2026-05-01T09:00:00Z");
    s.step("2026-05-01T10:00:00Z");
    s.finish("backup-1777629600", "2026-05-01T10:01:00Z", true);
    s.step("2026-05-01T10:02:00Z");
    let d = s.step("2026-05-01T10:33:00Z");
    assert_eq!(names(&d), vec!["backup-1777631400"]);
    assert!(s.status.runs[0].message.as_deref().unwrap().starts_with("catch-up run"));
    // Hourly; down over the 11:00 fire for 16 minutes: more than 900 s late, not run.
    let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T10:30:00Z");
    s.step("2026-05-01T10:50:00Z");
    let d = s.step("2026-05-01T11:16:00Z");
    assert!(d.create.is_empty());
    assert_eq!(d.events[0].reason, "RunMissed");
    assert_eq!(s.results(), pairs(&[("backup-1777633200", "Skipped")]));
    assert_eq!(s.status.next_run_time.as_deref(), Some("2026-05-01T12:00:00Z"));
    // With a longer deadline the same outage gets its catch-up run.
    let mut spec = cron("0 * * * *");
    spec.schedules[0].starting_deadline_seconds = Some(3600);
    let mut s = Sim::new(spec, "2026-05-01T10:30:00Z");
    s.step("2026-05-01T10:50:00Z");
    assert_eq!(names(&s.step("2026-05-01T11:16:00Z")), vec!["backup-1777633200"]);
}

#[test]
fn a_run_whose_pod_does_not_start_in_time_fails_with_the_reason() {
    let mut spec = cron("0 * * * *");
    spec.schedules[0].starting_deadline_seconds = Some(60);
    let mut s = Sim::new(spec, "2026-05-01T09:30:00Z");
    s.step("2026-05-01T10:00:00Z");
    s.attempts[0].waiting = Some("0/4 nodes are available: 4 node(s) didn't match node affinity".into());
    let d = s.step("2026-05-01T10:01:00Z");
    assert_eq!(d.wake_at, Some(t("2026-05-01T10:01:01Z")));
    assert!(d.delete.is_empty());
    let d = s.step("2026-05-01T10:01:01Z");
    assert_eq!(d.delete, vec!["backup-1777629600"]);
    assert_eq!(s.status.failure_count, 1);
    let msg = s.status.runs[0].message.clone().unwrap();
    assert!(msg.starts_with("StartingDeadlineExceeded: attempt 1 did not start within startingDeadlineSeconds (60 s)"));
    assert!(msg.contains("didn't match node affinity"), "{msg}");
    assert_eq!(d.events[0].reason, "StartingDeadlineExceeded");
    let ready = &s.status.common.conditions[0];
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "LastRunFailed"));
}

#[test]
fn max_launch_delay_fails_a_manual_run_whose_pod_does_not_start() {
    let mut spec = JobSpec { run: JobRun { cmd: Some("true".into()), ..Default::default() }, ..Default::default() };
    spec.run.max_launch_delay = Some(120);
    let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
    s.request = Some("2026-05-01T10:00:05Z".into());
    assert_eq!(names(&s.step("2026-05-01T10:00:06Z")), vec!["backup-m1777629605000"]);
    let d = s.step("2026-05-01T10:02:06Z");
    assert!(d.delete.is_empty(), "not before 120 s after the end of the creation second");
    assert_eq!(d.wake_at, Some(t("2026-05-01T10:02:07Z")));
    let d = s.step("2026-05-01T10:02:07Z");
    assert_eq!(d.delete, vec!["backup-m1777629605000"]);
    assert_eq!(d.events[0].reason, "MaxLaunchDelayExceeded");
    let msg = s.status.runs[0].message.clone().unwrap();
    assert!(
        msg.starts_with("MaxLaunchDelayExceeded: attempt 1 did not start within run.maxLaunchDelay (120 s)"),
        "{msg}"
    );
    assert_eq!(s.status.failure_count, 1);
}

#[test]
fn max_launch_delay_defaults_to_an_hour_and_a_started_pod_is_never_failed_for_it() {
    let spec = JobSpec { run: JobRun { cmd: Some("true".into()), ..Default::default() }, ..Default::default() };
    let mut s = Sim::new(spec.clone(), "2026-05-01T10:00:00Z");
    s.request = Some("2026-05-01T10:00:05Z".into());
    s.step("2026-05-01T10:00:06Z");
    assert!(s.step("2026-05-01T11:00:06Z").delete.is_empty());
    assert_eq!(s.step("2026-05-01T11:00:07Z").delete, vec!["backup-m1777629605000"]);
    let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
    s.request = Some("2026-05-01T10:00:05Z".into());
    s.step("2026-05-01T10:00:06Z");
    s.start("backup-m1777629605000", "2026-05-01T10:59:00Z");
    let d = s.step("2026-05-01T13:00:00Z");
    assert!(d.delete.is_empty() && s.status.failure_count == 0, "{:?}", s.status.runs);
}

#[test]
fn the_earlier_of_max_launch_delay_and_the_starting_deadline_applies_to_scheduled_runs() {
    let mut spec = cron("0 * * * *");
    spec.schedules[0].starting_deadline_seconds = Some(600);
    spec.run.max_launch_delay = Some(60);
    let mut s = Sim::new(spec, "2026-05-01T09:30:00Z");
    s.step("2026-05-01T10:00:00Z");
    let d = s.step("2026-05-01T10:01:01Z");
    assert_eq!(d.events[0].reason, "MaxLaunchDelayExceeded");
}

#[test]
fn chronos_retries_back_off_then_fail() {
    let spec = iso("R1/2026-05-01T10:00:00Z/PT1H", "false");
    let mut s = Sim::new(spec, "2026-05-01T09:00:00Z");
    assert_eq!(names(&s.step("2026-05-01T10:00:00Z")), vec!["backup-1777629600"]);
    s.finish("backup-1777629600", "2026-05-01T10:00:05Z", false);
    let d = s.step("2026-05-01T10:00:06Z");
    assert_eq!(d.wake_at, Some(t("2026-05-01T10:00:15Z")));
    assert_eq!(s.status.runs[0].retry_time.as_deref(), Some("2026-05-01T10:00:15Z"));
    assert!(s.step("2026-05-01T10:00:14Z").create.is_empty());
    assert_eq!(names(&s.step("2026-05-01T10:00:15Z")), vec!["backup-1777629600-2"]);
    s.finish("backup-1777629600-2", "2026-05-01T10:00:20Z", false);
    assert_eq!(s.step("2026-05-01T10:00:21Z").wake_at, Some(t("2026-05-01T10:00:40Z")));
    assert_eq!(names(&s.step("2026-05-01T10:00:40Z")), vec!["backup-1777629600-3"]);
    s.finish("backup-1777629600-3", "2026-05-01T10:00:45Z", false);
    s.step("2026-05-01T10:00:46Z");
    assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
    assert_eq!(s.status.runs[0].attempts, 3);
    assert_eq!((s.status.failure_count, s.status.success_count), (1, 0));
    assert!(s.status.runs[0].message.as_deref().unwrap().contains("attempt 3 failed: exit 1"));
}

#[test]
fn on_failure_retries_inside_the_active_deadline_and_never_kills_a_running_attempt() {
    let mut spec = cron("0 * * * *");
    spec.run.restart = Some(RestartSpec { policy: Some(RestartPolicy::OnFailure), active_deadline_seconds: Some(30) });
    let mut s = Sim::new(spec, "2026-05-01T09:30:00Z");
    s.step("2026-05-01T10:00:00Z");
    s.finish("backup-1777629600", "2026-05-01T10:00:05Z", false);
    s.step("2026-05-01T10:00:05Z");
    assert_eq!(names(&s.step("2026-05-01T10:00:15Z")), vec!["backup-1777629600-2"]);
    // Attempt 2 still runs after the window closed: nothing kills it.
    s.start("backup-1777629600-2", "2026-05-01T10:00:16Z");
    let d = s.step("2026-05-01T10:00:50Z");
    assert!(d.delete.is_empty() && d.create.is_empty());
    assert_eq!(s.results(), pairs(&[("backup-1777629600", "Active")]));
    // It fails after the window: no attempt 3.
    s.finish("backup-1777629600-2", "2026-05-01T10:01:00Z", false);
    let d = s.step("2026-05-01T10:01:01Z");
    assert!(d.create.is_empty());
    assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
    // A Metronome NEVER job does not retry.
    let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T09:30:00Z");
    s.step("2026-05-01T10:00:00Z");
    s.finish("backup-1777629600", "2026-05-01T10:00:05Z", false);
    s.step("2026-05-01T10:00:06Z");
    assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
}

#[test]
fn an_r3_interval_with_an_empty_start_runs_three_times_and_stops() {
    let spec = iso("R3//PT10S", "true");
    let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
    let d = s.step("2026-05-01T10:00:01Z");
    assert_eq!(names(&d), vec!["backup-1777629601"]);
    assert_eq!(s.status.schedule_anchor.as_ref().map(|a| a.start.as_str()), Some("2026-05-01T10:00:01Z"));
    assert_eq!(d.wake_at, Some(t("2026-05-01T10:00:11Z")));
    s.finish("backup-1777629601", "2026-05-01T10:00:03Z", true);
    assert_eq!(names(&s.step("2026-05-01T10:00:11Z")), vec!["backup-1777629611"]);
    s.finish("backup-1777629611", "2026-05-01T10:00:13Z", true);
    let d = s.step("2026-05-01T10:00:21Z");
    assert_eq!(names(&d), vec!["backup-1777629621"]);
    assert_eq!(d.wake_at, None);
    s.finish("backup-1777629621", "2026-05-01T10:00:23Z", true);
    let d = s.step("2026-05-01T10:05:00Z");
    assert!(d.create.is_empty());
    assert_eq!(s.status.success_count, 3);
    assert_eq!(s.status.next_run_time, None);
    assert_eq!(s.status.common.conditions[0].reason, "ScheduleComplete");
}

#[test]
fn children_run_once_every_parent_completed_again() {
    let spec = JobSpec {
        run: JobRun { cmd: Some("true".into()), ..Default::default() },
        parents: vec!["a".into()],
        dependencies: vec![JobDependency { id: "b".into() }],
        ..Default::default()
    };
    let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
    let parent = |key: &str, at: Option<&str>| ParentState { key: key.into(), found: true, completed: at.map(t) };
    // A completion from before the child existed does not count.
    s.parents = vec![parent("ops/a", Some("2026-05-01T09:00:00Z")), parent("ops/b", None)];
    let d = s.step("2026-05-01T10:01:00Z");
    assert!(d.create.is_empty());
    assert_eq!(s.status.common.conditions[0].message, "waiting for ops/a, ops/b");
    s.parents = vec![parent("ops/a", Some("2026-05-01T10:02:00Z")), parent("ops/b", None)];
    assert!(s.step("2026-05-01T10:02:01Z").create.is_empty());
    s.parents = vec![parent("ops/a", Some("2026-05-01T10:02:00Z")), parent("ops/b", Some("2026-05-01T10:03:00Z"))];
    assert_eq!(names(&s.step("2026-05-01T10:03:01Z")), vec!["backup-d1777629780"]);
    assert_eq!(s.status.consumed_parents.get("ops/a").map(String::as_str), Some("2026-05-01T10:02:00Z"));
    s.finish("backup-d1777629780", "2026-05-01T10:04:00Z", true);
    // Only one parent ran again: wait for the other.
    s.parents = vec![parent("ops/a", Some("2026-05-01T10:05:00Z")), parent("ops/b", Some("2026-05-01T10:03:00Z"))];
    assert!(s.step("2026-05-01T10:05:01Z").create.is_empty());
    s.parents = vec![parent("ops/a", Some("2026-05-01T10:05:00Z")), parent("ops/b", Some("2026-05-01T10:06:00Z"))];
    assert_eq!(names(&s.step("2026-05-01T10:06:01Z")), vec!["backup-d1777629960"]);
    // A missing parent is named.
    s.parents = vec![ParentState { key: "ops/a".into(), found: false, completed: None }];
    s.step("2026-05-01T10:07:00Z");
    assert!(s.status.common.conditions[0].message.contains("ops/a (not found)"));
}

#[test]
fn soft_error_lets_a_failed_parent_count() {
    let status = JobStatus {
        last_success_time: Some("2026-05-01T10:00:00Z".into()),
        last_failure_time: Some("2026-05-01T11:00:00Z".into()),
        ..Default::default()
    };
    let mut parent = cron("0 * * * *");
    assert_eq!(parent_completion(&parent, Some(&status)), Some(t("2026-05-01T10:00:00Z")));
    parent.soft_error = Some(true);
    assert_eq!(parent_completion(&parent, Some(&status)), Some(t("2026-05-01T11:00:00Z")));
    assert_eq!(parent_completion(&parent, None), None);
}

#[test]
fn manual_runs_start_once_per_request_even_under_forbid() {
    let mut spec = cron("0 0 1 1 *");
    spec.schedules[0].concurrency_policy = Some(ConcurrencyPolicy::Forbid);
    let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
    s.request = Some("2026-05-01T10:00:05.123Z".into());
    assert_eq!(names(&s.step("2026-05-01T10:00:06Z")), vec!["backup-m1777629605123"]);
    assert!(s.step("2026-05-01T10:00:07Z").create.is_empty());
    s.request = Some("2026-05-01T10:00:08Z".into());
    assert_eq!(names(&s.step("2026-05-01T10:00:09Z")), vec!["backup-m1777629608000"]);
    assert_eq!(s.status.runs.len(), 2);
    assert_eq!(s.status.runs[0].trigger.as_deref(), Some("manual"));
    s.request = Some("yesterday".into());
    assert_eq!(s.step("2026-05-01T10:00:10Z").events[0].reason, "InvalidRunRequest");
}

#[test]
fn history_keeps_the_last_ten_finished_runs_and_deletes_older_jobs() {
    let mut s = Sim::new(cron("* * * * *"), "2026-05-01T09:00:00Z");
    let mut deleted = vec![];
    for m in 0..12 {
        let now = format!("2026-05-01T10:{m:02}:00Z");
        let d = s.step(&now);
        deleted.extend(d.delete);
        let name = d.create[0].name.clone();
        s.finish(&name, &format!("2026-05-01T10:{m:02}:30Z"), true);
    }
    deleted.extend(s.step("2026-05-01T10:11:45Z").delete);
    assert_eq!(s.status.runs.len(), 10);
    assert_eq!(s.status.runs[0].id, "backup-1777630260");
    assert_eq!(s.status.success_count, 12);
    assert_eq!(deleted, vec!["backup-1777629600", "backup-1777629660"]);
    // Deleted runs are not adopted back.
    let finished = Finished { at: t("2026-05-01T10:00:30Z"), succeeded: true, reason: String::new() };
    s.attempts.push(scheduled_attempt("backup-1777629600", "2026-05-01T10:00:00Z", Some(finished)));
    let d = s.step("2026-05-01T10:11:50Z");
    assert_eq!(d.delete, vec!["backup-1777629600"]);
    assert_eq!(s.status.success_count, 12);
}

#[test]
fn attempts_created_before_a_crash_are_adopted_and_deleted_ones_fail_the_run() {
    let mut s = Sim::new(cron("0 * * * *"), "2026-05-01T09:30:00Z");
    s.attempts.push(scheduled_attempt("backup-1777629600", "2026-05-01T10:00:00Z", None));
    let d = s.step("2026-05-01T10:00:02Z");
    assert!(d.create.is_empty(), "{d:?}");
    assert_eq!(s.results(), pairs(&[("backup-1777629600", "Active")]));
    assert_eq!(expected_attempts(&s.status), vec!["backup-1777629600"]);
    s.attempts.clear();
    s.step("2026-05-01T10:00:03Z");
    assert_eq!(s.results(), pairs(&[("backup-1777629600", "Active")]), "a cache miss alone is not a loss");
    s.gone = vec!["backup-1777629600".into()];
    s.step("2026-05-01T10:00:04Z");
    assert_eq!(s.results(), pairs(&[("backup-1777629600", "Failed")]));
    assert!(s.status.runs[0].message.as_deref().unwrap().contains("was deleted"));
}

#[test]
fn disabled_jobs_and_invalid_schedules_do_not_fire() {
    let mut spec = cron("* * * * *");
    spec.schedules[0].enabled = Some(false);
    let mut s = Sim::new(spec, "2026-05-01T09:00:00Z");
    assert!(s.step("2026-05-01T10:00:00Z").create.is_empty());
    assert_eq!(s.status.next_run_time, None);
    assert_eq!(s.status.trigger.as_deref(), Some("cron * * * * * UTC (disabled)"));
    let mut s = Sim::new(cron("61 * * * *"), "2026-05-01T09:00:00Z");
    let d = s.step("2026-05-01T10:00:00Z");
    assert!(d.create.is_empty());
    let stalled = &s.status.common.conditions[2];
    assert_eq!((stalled.type_.as_str(), stalled.status.as_str()), ("Stalled", "True"));
}

#[test]
fn long_names_give_run_ids_that_fit_a_job_name() {
    let long = "a".repeat(63);
    let id = format!("{}-m{}", run_base(&long), 1_777_629_605_123u64);
    assert!(attempt_name(&id, 99).len() <= 63, "{id}");
    assert_ne!(run_base(&long), run_base(&"a".repeat(62)));
}

#[test]
fn extreme_deadlines_and_periods_never_panic() {
    for secs in [i64::MAX, i64::MIN, i64::MAX / 1000 + 1] {
        let mut spec = cron("* * * * *");
        spec.schedules[0].starting_deadline_seconds = Some(secs);
        spec.run.restart =
            Some(RestartSpec { policy: Some(RestartPolicy::OnFailure), active_deadline_seconds: Some(secs) });
        let mut s = Sim::new(spec, "2026-05-01T09:30:00Z");
        s.step("2026-05-01T10:00:00Z");
        if let Some(name) = s.attempts.first().map(|a| a.name.clone()) {
            s.finish(&name, "2026-05-01T10:00:05Z", false);
        }
        s.step("2026-05-01T10:00:06Z");
        s.step("2026-05-01T10:00:20Z");
    }
    // A sub-second period (as kubectl may apply it) does not parse: the Job stalls, no loop.
    let mut s = Sim::new(iso("R//PT0.0001S", "true"), "2026-05-01T09:30:00Z");
    let d = s.step("2026-05-01T10:00:00Z");
    assert!(d.create.is_empty() && d.wake_at.is_none(), "{d:?}");
    let stalled = s.status.common.conditions.iter().find(|c| c.type_ == "Stalled").unwrap();
    assert_eq!(stalled.status, "True");
    assert!(stalled.message.contains("minimum of one second"), "{}", stalled.message);
}

#[test]
fn a_kill_request_stops_active_runs_once_without_retries() {
    // Two manual runs of a Chronos-style job (2 retries by default), both active.
    let spec = iso("R1/2027-01-01T00:00:00Z/PT1H", "sleep 100");
    let mut s = Sim::new(spec, "2026-05-01T10:00:00Z");
    s.request = Some("2026-05-01T10:00:01Z".into());
    s.step("2026-05-01T10:00:02Z");
    s.request = Some("2026-05-01T10:00:03Z".into());
    s.step("2026-05-01T10:00:04Z");
    let (first, second) = ("backup-m1777629601000".to_string(), "backup-m1777629603000".to_string());
    let run = |s: &Sim, id: &str| s.status.runs.iter().find(|r| r.id == id).cloned().unwrap();
    let results = |s: &Sim| {
        let mut r = s.results();
        r.sort();
        r
    };
    s.start(&first, "2026-05-01T10:00:05Z");
    // One run by id: its attempt is deleted and it fails as killed; the other runs on.
    s.kill = Some(format!("2026-05-01T10:00:06Z {first}"));
    let d = s.step("2026-05-01T10:00:07Z");
    assert_eq!(d.delete, vec![first.clone()]);
    assert_eq!(d.events.iter().map(|e| e.reason).collect::<Vec<_>>(), ["RunKilled"]);
    assert_eq!(results(&s), pairs(&[(first.as_str(), "Failed"), (second.as_str(), "Active")]));
    assert_eq!(run(&s, &first).message.as_deref(), Some("killed by request at 2026-05-01T10:00:06Z"));
    assert_eq!(s.status.last_kill_request.as_deref(), Some(format!("2026-05-01T10:00:06Z {first}").as_str()));
    // Handled once: the same value again changes nothing, and no retry comes later.
    let d = s.step("2026-05-01T10:01:00Z");
    assert!(d.create.is_empty() && d.delete.is_empty() && d.events.is_empty(), "{d:?}");
    // The second run fails its attempt and waits to retry; a kill of every run drops the retry.
    s.finish(&second, "2026-05-01T10:01:01Z", false);
    s.step("2026-05-01T10:01:02Z");
    assert!(run(&s, &second).retry_time.is_some());
    s.kill = Some("2026-05-01T10:01:03Z".into());
    let d = s.step("2026-05-01T10:01:04Z");
    assert!(d.delete.is_empty(), "the failed attempt has no Job running: {d:?}");
    assert_eq!(results(&s), pairs(&[(first.as_str(), "Failed"), (second.as_str(), "Failed")]));
    assert_eq!(run(&s, &second).retry_time, None);
    assert!(s.step("2026-05-01T10:10:00Z").create.is_empty(), "a killed run is never retried");
    assert_eq!(s.status.failure_count, 2);
    // Nothing active: the request is recorded and said to have found nothing.
    s.kill = Some("2026-05-01T10:11:00Z".into());
    assert_eq!(s.step("2026-05-01T10:11:01Z").events[0].reason, "KillRequestIgnored");
    s.kill = Some("soon".into());
    assert_eq!(s.step("2026-05-01T10:11:02Z").events[0].reason, "InvalidKillRequest");
}

#[test]
fn kill_requests_parse_a_time_and_an_optional_run() {
    let r = parse_kill_request("2026-05-01T10:00:06Z backup-m1").unwrap();
    assert_eq!((r.at, r.run), ("2026-05-01T10:00:06Z", Some("backup-m1")));
    assert_eq!(parse_kill_request("2026-05-01T10:00:06.5Z").unwrap().run, None);
    for bad in ["", "now", "2026-05-01T10:00:06Z ", "2026-05-01T10:00:06Z a b"] {
        assert_eq!(parse_kill_request(bad), None, "{bad:?}");
    }
    assert_eq!(kill_request_value("t", Some("r")), "t r");
}
