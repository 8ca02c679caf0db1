use super::*;
use serde_json::json;

fn now() -> Instant {
    parse_time("2026-12-05T10:00:00Z").unwrap()
}

fn text(samples: &[Sample]) -> String {
    encode(samples)
}

fn has(text: &str, line: &str) {
    assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
}

fn lacks(text: &str, prefix: &str) {
    assert!(!text.lines().any(|l| l.starts_with(prefix)), "unexpected {prefix:?} in:\n{text}");
}

#[test]
fn a_failing_scheduled_job_exposes_its_last_results_interval_and_lateness() {
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job",
        "metadata": {"namespace": "ops", "name": "backup", "creationTimestamp": "2026-12-01T00:00:00Z"},
        "spec": {"run": {"cmd": "exit 1", "cpus": 0.1, "mem": 32}, "schedules": [{"id": "s", "cron": "*/5 * * * *"}]},
        "status": {
            "lastResult": "Failed", "successCount": 3, "failureCount": 2,
            "lastSuccessTime": "2026-12-05T09:00:00Z", "lastFailureTime": "2026-12-05T09:55:30Z",
            "nextRunTime": "2026-12-05T10:05:00Z",
            "runs": [
                {"id": "backup-2", "trigger": "schedule", "scheduledTime": "2026-12-05T09:55:00Z",
                 "startTime": "2026-12-05T09:55:12Z", "result": "Failed", "attempts": 1},
                {"id": "backup-3", "trigger": "manual", "startTime": "2026-12-05T09:59:00Z", "result": "Active", "attempts": 1}
            ]
        }
    }))
    .unwrap();
    let mut s = vec![];
    super::job(&job, now(), &mut s);
    let t = text(&s);
    has(&t, r#"dromos_job_last_run_failed{namespace="ops",name="backup"} 1"#);
    has(&t, r#"dromos_job_last_success_timestamp_seconds{namespace="ops",name="backup"} 1796461200"#);
    has(&t, r#"dromos_job_last_failure_timestamp_seconds{namespace="ops",name="backup"} 1796464530"#);
    has(&t, r#"dromos_job_expected_interval_seconds{namespace="ops",name="backup"} 300"#);
    has(&t, r#"dromos_job_next_run_timestamp_seconds{namespace="ops",name="backup"} 1796465100"#);
    has(&t, r#"dromos_job_created_timestamp_seconds{namespace="ops",name="backup"} 1796083200"#);
    has(&t, r#"dromos_job_active_runs{namespace="ops",name="backup"} 1"#);
    has(&t, r#"dromos_job_last_run_start_delay_seconds{namespace="ops",name="backup"} 12"#);
    has(&t, r#"dromos_job_runs_total{namespace="ops",name="backup",result="succeeded"} 3"#);
    has(&t, r#"dromos_job_runs_total{namespace="ops",name="backup",result="failed"} 2"#);
    has(&t, r#"dromos_job_suspended{namespace="ops",name="backup"} 0"#);
    has(&t, "# TYPE dromos_job_runs counter");
}

#[test]
fn a_new_unscheduled_job_has_no_timestamps_and_no_interval() {
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job",
        "metadata": {"namespace": "ops", "name": "once"},
        "spec": {"run": {"cmd": "true", "cpus": 0.1, "mem": 32}}
    }))
    .unwrap();
    let mut s = vec![];
    super::job(&job, now(), &mut s);
    let t = text(&s);
    lacks(&t, "dromos_job_last_success_timestamp_seconds{");
    lacks(&t, "dromos_job_expected_interval_seconds{");
    lacks(&t, "dromos_job_next_run_timestamp_seconds{");
    has(&t, r#"dromos_job_last_run_failed{namespace="ops",name="once"} 0"#);
}

#[test]
fn iso_intervals_and_calendar_periods_give_the_interval_ahead_of_now() {
    let job = |schedule: &str| -> Job {
        serde_json::from_value(json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Job",
            "metadata": {"namespace": "ops", "name": "j"},
            "spec": {"run": {"cmd": "true", "cpus": 0.1, "mem": 32}, "schedule": schedule}
        }))
        .unwrap()
    };
    let interval = |schedule: &str| crate::runs::expected_interval(&job(schedule).spec, &Default::default(), now());
    assert_eq!(interval("R/2026-01-01T00:00:00Z/PT2H"), Some(7200.0));
    // From 2026-12-05 the next fires are 2027-01-01 and 2027-02-01: 31 days.
    assert_eq!(interval("R/2026-01-01T00:00:00Z/P1M"), Some(31.0 * 86400.0));
    // A finite repetition that is over has no interval.
    assert_eq!(interval("R2/2026-01-01T00:00:00Z/PT1H"), None);
}

#[test]
fn apps_expose_instances_by_state_and_the_deployment_in_progress() {
    let app: App = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "App",
        "metadata": {"namespace": "shop", "name": "web"},
        "spec": {"instances": 3, "cmd": "sleep 1000"},
        "status": {
            "instances": 3, "staged": 1, "running": 2, "healthy": 1, "unhealthy": 1, "restarts": 4,
            "deployment": {"version": "v2", "reason": "Upgrade", "startedAt": "2026-12-05T09:00:00Z"},
            "placement": {"waiting": 1, "declined": {}},
            "conditions": [{"type": "Ready", "status": "False", "reason": "Deploying", "message": "",
                            "lastTransitionTime": "2026-12-05T09:00:00Z"}]
        }
    }))
    .unwrap();
    let mut s = vec![];
    super::app(&app, &mut s);
    let t = text(&s);
    for (state, n) in [("desired", 3), ("staged", 1), ("running", 2), ("healthy", 1), ("unhealthy", 1)] {
        has(&t, &format!(r#"dromos_app_instances{{namespace="shop",name="web",state="{state}"}} {n}"#));
    }
    has(&t, r#"dromos_app_deploying{namespace="shop",name="web"} 1"#);
    has(&t, r#"dromos_app_deployment_start_timestamp_seconds{namespace="shop",name="web"} 1796461200"#);
    has(&t, r#"dromos_app_restarts{namespace="shop",name="web"} 4"#);
    has(&t, r#"dromos_app_placement_waiting{namespace="shop",name="web"} 1"#);
    has(&t, r#"dromos_app_ready{namespace="shop",name="web"} 0"#);
}

#[test]
fn sources_expose_readiness_staleness_and_the_last_sync() {
    let gs: GitSource = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "GitSource",
        "metadata": {"namespace": "team", "name": "apps"},
        "spec": {"url": "https://git.example/apps.git"},
        "status": {
            "lastAppliedRevision": "main@sha1:aaa", "lastAttemptedRevision": "main@sha1:bbb",
            "inventory": ["v1/ConfigMap/team/a", "v1/ConfigMap/team/b"],
            "diagnostics": [{"file": "a.yaml", "line": 3, "column": 1, "severity": "error", "message": "bad"}],
            "lastSync": {"applied": 1, "unchanged": 1, "pruned": 0, "failed": 0, "durationMs": 20,
                         "finishedAt": "2026-12-05T09:59:00Z"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "message": "",
                            "lastTransitionTime": "2026-12-05T09:00:00Z"}]
        }
    }))
    .unwrap();
    let mut s = vec![];
    super::gitsource(&gs, &mut s);
    let t = text(&s);
    has(&t, r#"dromos_gitsource_ready{namespace="team",name="apps"} 1"#);
    has(&t, r#"dromos_gitsource_revision_stale{namespace="team",name="apps"} 1"#);
    has(&t, r#"dromos_gitsource_diagnostics{namespace="team",name="apps"} 1"#);
    has(&t, r#"dromos_gitsource_objects{namespace="team",name="apps"} 2"#);
    has(&t, r#"dromos_gitsource_last_sync_timestamp_seconds{namespace="team",name="apps"} 1796464740"#);
    has(&t, r#"dromos_gitsource_last_sync_objects{namespace="team",name="apps",result="applied"} 1"#);
}

#[test]
fn packages_expose_readiness_version_and_object_health_with_bounded_words() {
    let pkg: Package = serde_json::from_value(json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Package",
        "metadata": {"namespace": "data", "name": "kafka"},
        "spec": {"name": "kafka", "version": "3.7.0"},
        "status": {
            "installedVersion": "3.7.0",
            "objects": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "b", "health": "Ready"},
                {"apiVersion": "v1", "kind": "Service", "name": "s", "health": "Exists"},
                {"apiVersion": "v1", "kind": "Service", "name": "x", "health": "made\"up\nword"}
            ]
        }
    }))
    .unwrap();
    let mut s = vec![];
    super::package(&pkg, &mut s);
    let t = text(&s);
    has(&t, r#"dromos_package_ready{namespace="data",name="kafka"} 0"#);
    has(&t, r#"dromos_package_info{namespace="data",name="kafka",package="kafka",version="3.7.0"} 1"#);
    has(&t, r#"dromos_package_objects{namespace="data",name="kafka",health="Ready"} 1"#);
    has(&t, r#"dromos_package_objects{namespace="data",name="kafka",health="Unknown"} 1"#);
}

#[test]
fn label_values_are_escaped_and_every_family_has_help_and_type() {
    let s = vec![Sample { family: "app_ready", labels: vec!["a\\b".into(), "q\"\nx".into()], value: 1.0 }];
    let t = encode(&s);
    has(&t, r#"dromos_app_ready{namespace="a\\b",name="q\"\nx"} 1"#);
    for f in FAMILIES {
        has(&t, &format!("# TYPE dromos_{} {}", f.name, f.kind.as_str()));
        assert!(!f.name.ends_with("_total"), "{}: counters are named without _total", f.name);
    }
    let mut names: Vec<_> = FAMILIES.iter().map(|f| f.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), FAMILIES.len(), "family names are unique");
}

#[test]
fn decline_reasons_become_a_bounded_set_of_classes() {
    assert_eq!(decline_class("insufficient mem"), "insufficient mem");
    assert_eq!(decline_class("UNIQUE hostname"), "constraint UNIQUE");
    assert_eq!(decline_class("MAX_PER rack 2"), "constraint MAX_PER");
    assert_eq!(decline_class("LIKE @zone eu-[a-z]+"), "constraint LIKE");
    assert_eq!(decline_class("InvalidSpec"), "invalid spec");
    assert_eq!(decline_class("anything a user wrote"), "other");
}
