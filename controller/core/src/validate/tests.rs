//! Tests of validation: tables of rules over small YAML fixtures.

use super::*;
use crate::load::{LoadOptions, SourceFile, load_files};

fn check(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    let files: Vec<SourceFile> =
        files.iter().map(|(p, t)| SourceFile { path: p.to_string(), bytes: t.as_bytes().to_vec() }).collect();
    let l = load_files(&files, &LoadOptions::default());
    let mut d = l.diagnostics;
    d.extend(validate_manifests(&l.manifests));
    d
}

fn app(spec: &str) -> String {
    format!("apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {{name: a, namespace: n}}\nspec:\n{spec}")
}

fn codes(spec: &str) -> Vec<(&'static str, String)> {
    check(&[("a.yaml", &app(spec))]).into_iter().map(|d| (d.code, d.field)).collect()
}

#[test]
fn a_valid_app_has_no_diagnostics() {
    assert_eq!(
        codes("  cmd: python3 -m http.server $PORT0\n  instances: 2\n  healthChecks: [{protocol: HTTP, path: /}]\n"),
        vec![]
    );
}

#[test]
fn table_of_app_rules() {
    let cases: &[(&str, &str, &str)] = &[
        ("  cmd: x\n  args: [y]\n  container: {docker: {image: i}}\n", "cmd-and-args", "spec.args"),
        ("  instances: 1\n", "nothing-to-run", "spec"),
        ("  cmd: x\n  cpus: 0\n", "out-of-range", "spec.cpus"),
        ("  cmd: x\n  gpus: 1.5\n", "out-of-range", "spec.gpus"),
        ("  cmd: x\n  mem: -1\n", "out-of-range", "spec.mem"),
        ("  cmd: x\n  constraints: [[hostname, UNIQUE, x]]\n", "invalid-constraint", "spec.constraints[0][2]"),
        ("  cmd: x\n  constraints: [[\"@zone\", GROUP_BY]]\n", "invalid-constraint", "spec.constraints[0][1]"),
        ("  cmd: x\n  constraints: [[rack, LIKE, \"a[\"]]\n", "invalid-constraint", "spec.constraints[0][2]"),
        ("  cmd: x\n  constraints: [[rack, MAX_PER, \"0\"]]\n", "invalid-constraint", "spec.constraints[0][2]"),
        ("  cmd: x\n  constraints: [[rack, unique]]\n", "invalid-constraint", "spec.constraints[0][1]"),
        (
            "  cmd: x\n  upgradeStrategy: {minimumHealthCapacity: 1.5}\n",
            "out-of-range",
            "spec.upgradeStrategy.minimumHealthCapacity",
        ),
        (
            "  cmd: x\n  container: {volumes: [{containerPath: data, persistent: {size: 10}}]}\n  upgradeStrategy: {maximumOverCapacity: 0.5}\n",
            "resident-upgrade",
            "spec.upgradeStrategy.maximumOverCapacity",
        ),
        ("  cmd: x\n  healthChecks: [{protocol: COMMAND}]\n", "invalid-health-check", "spec.healthChecks[0]"),
        (
            "  cmd: x\n  healthChecks: [{protocol: TCP, path: /x}]\n",
            "invalid-health-check",
            "spec.healthChecks[0].path",
        ),
        (
            "  cmd: x\n  healthChecks: [{protocol: HTTP, portIndex: 3}]\n",
            "invalid-health-check",
            "spec.healthChecks[0].portIndex",
        ),
        (
            "  cmd: x\n  healthChecks: [{timeoutSeconds: 60, intervalSeconds: 30}]\n",
            "out-of-range",
            "spec.healthChecks[0].timeoutSeconds",
        ),
        (
            "  cmd: x\n  portDefinitions: [{port: 0, name: http}]\n  readinessChecks: [{portName: http, timeoutSeconds: 30, intervalSeconds: 30}]\n",
            "out-of-range",
            "spec.readinessChecks[0].timeoutSeconds",
        ),
        (
            "  cmd: x\n  portDefinitions: [{port: 0, name: http}]\n  readinessChecks: [{portName: htp}]\n",
            "unknown-port",
            "spec.readinessChecks[0].portName",
        ),
        ("  cmd: x\n  backoffFactor: 1.15\n", "unsupported-field", "spec.backoffFactor"),
        ("  cmd: x\n  backoffSeconds: 1\n", "unsupported-field", "spec.backoffSeconds"),
        ("  cmd: x\n  maxLaunchDelaySeconds: 300\n", "unsupported-field", "spec.maxLaunchDelaySeconds"),
        (
            "  container: {docker: {image: i, pullConfig: {secret: Reg_Cred}}}\n",
            "invalid-value",
            "spec.container.docker.pullConfig.secret",
        ),
        (
            "  container: {docker: {image: i, pullConfig: {secret: p}}}\n  secrets: {p: {source: /a/B}}\n",
            "invalid-value",
            "spec.container.docker.pullConfig.secret",
        ),
        (
            "  cmd: x\n  unreachableStrategy: {inactiveAfterSeconds: 600, expungeAfterSeconds: 60}\n",
            "out-of-range",
            "spec.unreachableStrategy.inactiveAfterSeconds",
        ),
        ("  cmd: x\n  unreachableStrategy: never\n", "invalid-value", "spec.unreachableStrategy"),
        ("  cmd: x\n  env: {A: {secret: nope}}\n", "unknown-secret", "spec.env.A.secret"),
        (
            "  cmd: x\n  container: {portMappings: [{containerPort: 80}]}\n",
            "ports-for-network",
            "spec.container.portMappings",
        ),
        (
            "  cmd: x\n  networks: [{mode: container/bridge}]\n  portDefinitions: [{port: 80}]\n",
            "ports-for-network",
            "spec.portDefinitions",
        ),
        (
            "  cmd: x\n  labels: {MARATHON_SINGLE_INSTANCE_APP: \"true\"}\n  instances: 2\n",
            "single-instance",
            "spec.upgradeStrategy",
        ),
        ("  cmd: x\n  resourceLimits: {cpus: 0.5}\n", "out-of-range", "spec.resourceLimits.cpus"),
        (
            "  cmd: x\n  portDefinitions: [{port: 80, labels: {VIP_0: nope}}]\n",
            "invalid-vip",
            "spec.portDefinitions[0].labels.VIP_0",
        ),
        ("  containers: [{name: a, exec: {command: {shell: x}}}]\n  cmd: y\n", "pod-and-app", "spec.cmd"),
        (
            "  containers: [{name: a, volumeMounts: [{name: v, mountPath: /v}], exec: {command: {shell: x}}}]\n",
            "unknown-volume",
            "spec.containers[0].volumeMounts[0].name",
        ),
    ];
    for (spec, code, field) in cases {
        let got = codes(spec);
        assert!(
            got.iter().any(|(c, f)| c == code && f == field),
            "spec:\n{spec}\nexpected {code} at {field}, got {got:?}"
        );
    }
}

#[test]
fn the_autoscaled_annotation_is_true_or_false() {
    let with = |v: &str| {
        let text = format!(
            "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {{name: a, namespace: n, annotations: {{dromos.io/autoscaled: {v}}}}}\nspec:\n  cmd: x\n"
        );
        check(&[("a.yaml", &text)])
    };
    assert!(with("\"true\"").is_empty() && with("\"false\"").is_empty());
    let d = with("\"yes\"");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "invalid-value");
    assert_eq!((d[0].line, d[0].field.as_str()), (3, "metadata.annotations[\"dromos.io/autoscaled\"]"));
}

#[test]
fn resident_apps_default_to_zero_over_capacity() {
    assert_eq!(codes("  cmd: x\n  container: {volumes: [{containerPath: data, persistent: {size: 10}}]}\n"), vec![]);
}

#[test]
fn dependencies_resolve_relative_to_the_group_and_cycles_show_the_path() {
    let a = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web, cmd: x, dependencies: [api]}\n";
    let b = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/api, cmd: x, dependencies: [../shop/db]}\n";
    let c = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/db, cmd: x, dependencies: [/shop/web]}\n";
    let d = check(&[("a.yaml", a), ("b.yaml", b), ("c.yaml", c)]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "dependency-cycle");
    assert_eq!(d[0].message, "dependency cycle: /shop/web -> /shop/api -> /shop/db -> /shop/web");
    let d = check(&[("a.yaml", a)]);
    assert_eq!(d[0].code, "unknown-dependency");
    assert!(d[0].message.contains("/shop/api"));
}

fn job(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: dromos.io/v1alpha1\nkind: Job\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n  run: {{cmd: x}}\n{extra}"
    )
}

#[test]
fn table_of_job_rules() {
    let cases: &[(&str, &str, &str)] = &[
        ("  schedules: [{cron: \"0 0 2 * * *\"}]\n", "invalid-cron", "spec.schedules[0].cron"),
        (
            "  schedules: [{cron: \"0 2 * * *\", timezone: Europe/Pariss}]\n",
            "invalid-time-zone",
            "spec.schedules[0].timezone",
        ),
        (
            "  schedules: [{cron: \"0 2 * * *\", startingDeadlineSeconds: 30}]\n",
            "out-of-range",
            "spec.schedules[0].startingDeadlineSeconds",
        ),
        (
            "  schedules: [{cron: \"0 2 * * *\", concurrencyPolicy: SOMETIMES}]\n",
            "invalid-value",
            "spec.schedules[0].concurrencyPolicy",
        ),
        ("  schedule: R/2026-01-01T00:00:00Z/1D\n", "invalid-schedule", "spec.schedule"),
        ("  schedule: R//PT0.5S\n", "invalid-schedule", "spec.schedule"),
        ("  schedule: R//PT1H\n  parents: [b]\n", "schedule-and-dependencies", "spec.parents"),
        ("  parents: [nope]\n", "unknown-dependency", "spec.parents[0]"),
        ("  parents: [a]\n", "dependency-cycle", "spec.parents[0]"),
        ("  schedules: [{cron: \"0 2 * * *\"}, {cron: \"0 3 * * *\"}]\n", "too-many-schedules", "spec.schedules"),
        ("  scheduleTimeZone: Nowhere/City\n  schedule: R//PT1H\n", "invalid-time-zone", "spec.scheduleTimeZone"),
    ];
    for (extra, code, field) in cases {
        let d = check(&[("a.yaml", &job("a", extra)), ("b.yaml", &job("b", ""))]);
        assert!(
            d.iter().any(|x| x.code == *code && x.field == *field),
            "{extra}: expected {code} at {field}, got {d:?}"
        );
    }
}

#[test]
fn job_cycles_show_the_path() {
    let d =
        check(&[("a.yaml", &job("a", "  parents: [b]\n")), ("b.yaml", &job("b", "  dependencies: [{id: ops.a}]\n"))]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].message, "job dependency cycle: ops/a -> ops/b -> ops/a");
}

#[test]
fn a_time_zone_typo_gets_a_hint() {
    let d = check(&[("a.yaml", &job("a", "  schedules: [{cron: \"0 2 * * *\", timezone: Europe/Pariss}]\n"))]);
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `Europe/Paris`?"));
}

#[test]
fn gitsource_intervals_outside_the_bounds_are_errors_at_their_line() {
    let gs = |interval: &str| {
        format!(
            "apiVersion: dromos.io/v1alpha1\nkind: GitSource\nmetadata: {{name: g, namespace: n}}\nspec:\n  url: https://example.com/r.git\n  interval: \"{interval}\"\n"
        )
    };
    for bad in ["1ms", "0.5s", "25h", "99999999999999999999h"] {
        let d = check(&[("g.yaml", &gs(bad))]);
        let e = d.iter().find(|x| x.field == "spec.interval").unwrap_or_else(|| panic!("{bad}: {d:?}"));
        assert_eq!((e.code, e.file.as_str(), e.line), ("out-of-range", "g.yaml", 6), "{bad}");
        assert!(e.message.contains(bad), "{}", e.message);
    }
    for good in ["1s", "30s", "1h30m", "24h"] {
        assert_eq!(check(&[("g.yaml", &gs(good))]), vec![], "{good}");
    }
}
