//! Chronos jobs to Jobs (pure).
//!
//! A document is a job or a list of jobs (`GET /v1/scheduler/jobs`). Chronos names are free
//! text (`SAMPLE_JOB1`); they become DNS labels (`sample-job1`) in the default namespace, and
//! `parents` are mapped the same way so dependent jobs still find their parents.
//! Chronos resource fields of 0 mean "the scheduler's default" (`--mesos_task_cpu` 0.1,
//! `--mesos_task_mem` 128, `--mesos_task_disk` 256); those defaults are written explicitly.

use super::{
    Cx, Effect, ImportOptions, Origin, Reason, State, canonical, carry, dns_label, idx, key, put, spec_schema,
};
use crate::schedule::parse_iso8601;
use dromos_crds::JobSpec;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use super::reason as r;

const REASONS: &[Reason] = &[
    r("epsilon", Effect::Note, "Chronos 3 ignores `epsilon` (jobs are never skipped)", "nothing"),
    r("async", Effect::Note, "Chronos 3 ignores `async`", "nothing"),
    r(
        "executor",
        Effect::Dropped,
        "custom Mesos executors do not exist on Kubernetes",
        "run what the executor did inside the job's container",
    ),
    r("executorFlags", Effect::Dropped, "custom Mesos executors do not exist on Kubernetes", "nothing"),
    r(
        "taskInfoData",
        Effect::Dropped,
        "data for a custom executor; Kubernetes runs no executor",
        "pass it to the container as an environment variable",
    ),
    r(
        "highPriority",
        Effect::Dropped,
        "the Job kind has no priority",
        "give the run template a PriorityClass with a patch",
    ),
    r(
        "maxCompletionTime",
        Effect::Dropped,
        "the Job kind cannot kill a run after a deadline (restart.activeDeadlineSeconds only bounds retries)",
        "end the command with `timeout <seconds>` in `cmd`",
    ),
    r("dataProcessingJobType", Effect::Note, "a display flag of the Chronos UI", "nothing"),
    r(
        "container.networks",
        Effect::Dropped,
        "job runs get the pod network; the Job kind has no networks",
        "nothing for most jobs; write a NetworkPolicy if the network isolated the job",
    ),
    r(
        "container.networkInfos",
        Effect::Dropped,
        "job runs get the pod network; the Job kind has no networks",
        "nothing for most jobs; write a NetworkPolicy if the network isolated the job",
    ),
    r(
        "container.volumes.external",
        Effect::Dropped,
        "external volumes have no Job field",
        "mount a PersistentVolumeClaim with a patch on the run template",
    ),
];

/// Run state Chronos reports next to the definition.
const STATE: &[&str] = &[
    "successCount",
    "errorCount",
    "lastSuccess",
    "lastError",
    "errorsSinceLastSuccess",
    "lastSuccessDuration",
    "lastErrorDuration",
    "softErrorCount",
];

pub(super) fn import_all(docs: &[(String, Value)], opts: &ImportOptions, st: &mut State) {
    let mut all: Vec<(&str, String, &Map<String, Value>)> = Vec::new();
    for (file, v) in docs {
        let items: Vec<(String, &Value)> = match v {
            Value::Array(a) => a.iter().enumerate().map(|(i, x)| (idx("$", i), x)).collect(),
            other => vec![("$".to_string(), other)],
        };
        for (path, it) in items {
            match it.as_object() {
                Some(m) if m.get("name").and_then(Value::as_str).is_some() => all.push((file, path, m)),
                Some(_) => st.error(file, &key(&path, "name"), "a Chronos job needs a `name` (a string)"),
                None => st.error(file, &path, "expected a Chronos job (a JSON object)"),
            }
        }
    }
    // Chronos name -> Kubernetes name, for the jobs and their parents.
    let names: BTreeMap<String, String> = all
        .iter()
        .map(|(_, _, m)| m["name"].as_str().unwrap_or_default())
        .map(|n| (n.to_string(), dns_label(n)))
        .collect();
    for (file, path, m) in all {
        job(file, m, &path, &names, opts, st);
    }
}

fn job(
    file: &str,
    m: &Map<String, Value>,
    path: &str,
    names: &BTreeMap<String, String>,
    opts: &ImportOptions,
    st: &mut State,
) {
    let original = m["name"].as_str().unwrap_or_default();
    let name = names.get(original).cloned().unwrap_or_default();
    if name.is_empty() {
        return st.error(file, &key(path, "name"), format!("no Kubernetes name can be made from `{original}`"));
    }
    let namespace = opts.default_namespace.clone();
    let origin = Origin { kind: "Job", file, path, namespace: &namespace, name: &name };
    let mut cx = origin.cx(REASONS, st);
    let schema = spec_schema("Job", &[]);
    let props = &schema["properties"];
    let run_props = &props["run"]["properties"];
    let mut spec = Map::new();
    let mut run = Map::new();
    let mut labels = Map::new();
    let shell = m.get("shell").and_then(Value::as_bool).unwrap_or(true);
    for (k, v) in m {
        let p = key(path, k);
        match k.as_str() {
            "name" | "shell" | "command" | "arguments" => {}
            s if STATE.contains(&s) => {}
            "description" | "retries" | "softError" | "disabled" | "concurrent" => {
                put(&mut spec, props, k, v, &p, &mut cx)
            }
            "scheduleTimeZone" if !super::is_empty(v) => put(&mut spec, props, k, v, &p, &mut cx),
            "scheduleTimeZone" => {}
            "schedule" => schedule(v, &p, &mut spec, &mut cx),
            "parents" => {
                let list = parents(v, &p, names, &mut cx);
                if !list.is_empty() {
                    spec.insert("parents".into(), Value::Array(list));
                }
            }
            "owner" | "ownerName" if !super::is_empty(v) => {
                labels.insert(k.clone(), v.clone());
            }
            "owner" | "ownerName" => {}
            "cpus" | "mem" | "disk" => {
                if v.as_f64().is_some_and(|x| x > 0.0) {
                    put(&mut run, run_props, k, v, &p, &mut cx);
                }
            }
            "runAsUser" => put(&mut run, run_props, "user", v, &p, &mut cx),
            "environmentVariables" => {
                let env = environment(v, &p, &mut cx);
                if !env.is_empty() {
                    run.insert("env".into(), Value::Object(env));
                }
            }
            "uris" | "fetch" => artifacts(v, &p, &mut run, run_props, &mut cx),
            "container" => container(v, &p, &mut run, &mut cx),
            "constraints" => {
                let cs = constraints(v, &p, &mut cx);
                if !cs.is_empty() {
                    run.insert("placement".into(), json!({"constraints": cs}));
                }
            }
            _ => cx.drop_field(&p, k, v),
        }
    }
    default_resources(&mut run, m, path, &mut cx);
    command(m, path, shell, &mut run, &mut cx);
    if !labels.is_empty() {
        spec.insert("labels".into(), Value::Object(labels));
    }
    spec.insert("run".into(), Value::Object(run));
    let Some(spec) = canonical::<JobSpec>(Value::Object(spec), path, &mut cx) else { return };
    let mut comments = vec![format!("Chronos job `{original}` from {file} {path}")];
    if original != name {
        comments.push(format!("named `{name}`: Kubernetes names are lower-case DNS labels"));
    }
    origin.emit(comments, spec, st);
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `schedule`: an ISO 8601 repeating interval, kept if it can be read.
fn schedule(v: &Value, p: &str, spec: &mut Map<String, Value>, cx: &mut Cx) {
    match v.as_str().filter(|s| !s.is_empty()) {
        None => {}
        Some(s) => match parse_iso8601(s) {
            Ok(_) => {
                spec.insert("schedule".into(), json!(s));
            }
            Err(e) => cx.loss(
                Effect::Dropped,
                p,
                Some(v),
                format!("the schedule cannot be read: {e}"),
                "write spec.schedule as R[n]/<start>/<period>; until then the job runs only by hand",
            ),
        },
    }
}

/// `parents`, by their Kubernetes names; a parent not imported is reported and left out.
fn parents(v: &Value, p: &str, names: &BTreeMap<String, String>, cx: &mut Cx) -> Vec<Value> {
    v.as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, parent)| {
            let pn = parent.as_str().unwrap_or_default();
            match names.get(pn) {
                Some(n) => Some(json!(n)),
                None => {
                    cx.loss(
                        Effect::Dropped,
                        &idx(p, i),
                        Some(parent),
                        format!("parent `{pn}` is not among the imported jobs"),
                        "import it in the same run, then add the parent back",
                    );
                    None
                }
            }
        })
        .collect()
}

/// `environmentVariables` `[{name, value}]` as an env map of strings.
fn environment(v: &Value, p: &str, cx: &mut Cx) -> Map<String, Value> {
    let mut env = Map::new();
    for (i, e) in v.as_array().into_iter().flatten().enumerate() {
        match (e.get("name").and_then(Value::as_str), e.get("value")) {
            (Some(n), Some(val)) => {
                let val = val.as_str().map(str::to_string).unwrap_or_else(|| val.to_string());
                env.insert(n.to_string(), json!(val));
            }
            _ => cx.error(&idx(p, i), "an environment variable is {\"name\": ..., \"value\": ...}"),
        }
    }
    env
}

/// `uris` and `fetch` to `run.artifacts` (`outputFile` is `destPath`).
fn artifacts(v: &Value, p: &str, run: &mut Map<String, Value>, run_props: &Value, cx: &mut Cx) {
    let mut artifacts = run.get("artifacts").and_then(Value::as_array).cloned().unwrap_or_default();
    for (i, u) in v.as_array().into_iter().flatten().enumerate() {
        let a = match u {
            Value::String(s) => json!({"uri": s}),
            Value::Object(o) => {
                let mut a = o.clone();
                if let Some(out) = a.remove("outputFile") {
                    a.insert("destPath".into(), out);
                }
                Value::Object(a)
            }
            _ => {
                cx.error(&idx(p, i), "expected a URI or {uri, ...}");
                continue;
            }
        };
        if let Some(c) = carry(&a, &run_props["artifacts"]["items"], &idx(p, i), "fetch", cx) {
            artifacts.push(c);
        }
    }
    if !artifacts.is_empty() {
        run.insert("artifacts".into(), Value::Array(artifacts));
    }
}

/// Resources Chronos left to its scheduler defaults.
fn default_resources(run: &mut Map<String, Value>, m: &Map<String, Value>, path: &str, cx: &mut Cx) {
    for (f, default) in [("cpus", 0.1), ("mem", 128.0), ("disk", 256.0)] {
        if !run.contains_key(f) {
            run.insert(f.into(), json!(default));
            cx.loss(
                Effect::Note,
                &key(path, f),
                m.get(f),
                format!("Chronos used its scheduler default for {f}; the default {default} is written"),
                format!(
                    "check the Chronos flag --mesos_task_{} if it was changed",
                    if f == "cpus" { "cpu" } else { f }
                ),
            );
        }
    }
}

/// The command: a shell line, or an executable with arguments.
fn command(m: &Map<String, Value>, path: &str, shell: bool, run: &mut Map<String, Value>, cx: &mut Cx) {
    let command = m.get("command").and_then(Value::as_str).unwrap_or_default();
    let arguments: Vec<String> = m
        .get("arguments")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect())
        .unwrap_or_default();
    if shell {
        if !command.is_empty() {
            run.insert("cmd".into(), json!(command));
        }
        if !arguments.is_empty() {
            cx.loss(
                Effect::Note,
                &key(path, "arguments"),
                m.get("arguments"),
                "with shell true Mesos runs only `command`; Chronos ignored the arguments",
                "nothing",
            );
        }
    } else if command.is_empty() {
        if !arguments.is_empty() {
            run.insert("args".into(), json!(arguments));
        }
    } else {
        let line: Vec<String> =
            std::iter::once(command.to_string()).chain(arguments).map(|a| shell_quote(&a)).collect();
        run.insert("cmd".into(), json!(line.join(" ")));
        cx.loss(
            Effect::Approximated,
            &key(path, "shell"),
            Some(&json!(false)),
            "the executable and its arguments now run through `/bin/sh -c` (each argument quoted)",
            "use `args` with an image whose entrypoint is the executable if no shell is available",
        );
    }
}

/// Chronos `container` -> `run.docker` (or `run.ucr` for MESOS) and `run.volumes`.
fn container(v: &Value, path: &str, run: &mut Map<String, Value>, cx: &mut Cx) {
    let Some(c) = v.as_object() else {
        if !v.is_null() {
            cx.error(path, "container must be an object");
        }
        return;
    };
    let run_schema = &spec_schema("Job", &["run"])["properties"];
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    let mesos = c.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("mesos"));
    let force = c.get("forcePullImage").and_then(Value::as_bool);
    if !image.is_empty() {
        if mesos {
            let mut img = json!({"id": image, "kind": "docker"});
            if let Some(f) = force {
                img["forcePull"] = json!(f);
            }
            run.insert("ucr".into(), json!({"image": img}));
        } else {
            let mut d = Map::new();
            d.insert("image".into(), json!(image));
            if let Some(f) = force {
                d.insert("forcePullImage".into(), json!(f));
            }
            if let Some(params) = c.get("parameters").filter(|p| !super::is_empty(p))
                && let Some(p) = carry(
                    params,
                    &run_schema["docker"]["properties"]["parameters"],
                    &key(path, "parameters"),
                    "container.parameters",
                    cx,
                )
            {
                d.insert("parameters".into(), p);
            }
            run.insert("docker".into(), Value::Object(d));
        }
    }
    for (k, val) in c {
        let p = key(path, k);
        match k.as_str() {
            "type" | "image" | "forcePullImage" => {}
            "parameters" if !mesos => {}
            "network" => {
                if val.as_str().is_some_and(|n| n.eq_ignore_ascii_case("host")) {
                    cx.loss(
                        Effect::Approximated,
                        &p,
                        Some(val),
                        "job runs get the pod network, not the node's",
                        "nothing, unless the job must bind node ports (then patch hostNetwork into the run template)",
                    );
                }
            }
            "volumes" => {
                let mut vols = Vec::new();
                for (i, vol) in val.as_array().into_iter().flatten().enumerate() {
                    let vp = idx(&p, i);
                    match carry(vol, &run_schema["volumes"]["items"], &vp, "container.volumes", cx) {
                        Some(cv) if cv.get("hostPath").is_some() || cv.get("secret").is_some() => vols.push(cv),
                        Some(_) => cx.loss(
                            Effect::Dropped,
                            &vp,
                            Some(vol),
                            "the volume has no host path, the only source a Chronos volume maps to",
                            "mount the data with a patch on the run template",
                        ),
                        None => {}
                    }
                }
                if !vols.is_empty() {
                    run.insert("volumes".into(), Value::Array(vols));
                }
            }
            _ => cx.drop_field(&p, &format!("container.{k}"), val),
        }
    }
}

/// Chronos constraints `[attribute, EQUALS|LIKE|UNLIKE, value]` -> Metronome placement.
fn constraints(v: &Value, path: &str, cx: &mut Cx) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, c) in v.as_array().into_iter().flatten().enumerate() {
        let p = idx(path, i);
        let parts: Vec<String> = c
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect())
            .unwrap_or_default();
        let [attr, op, value] = parts.as_slice() else {
            cx.loss(
                Effect::Dropped,
                &p,
                Some(c),
                "a Chronos constraint is [attribute, OPERATOR, value]",
                "write it as a placement constraint by hand",
            );
            continue;
        };
        let op = match op.to_ascii_uppercase().as_str() {
            "EQUALS" | "IS" | "EQ" => "IS",
            "LIKE" => "LIKE",
            "UNLIKE" => "UNLIKE",
            other => {
                cx.loss(
                    Effect::Dropped,
                    &p,
                    Some(c),
                    format!("job placement knows EQUALS, LIKE and UNLIKE, not `{other}`"),
                    "rewrite the constraint with EQUALS, LIKE or UNLIKE",
                );
                continue;
            }
        };
        if op != "IS"
            && let Err(e) = crate::constraints::compile_whole(value)
        {
            cx.loss(Effect::Dropped, &p, Some(c), e, "rewrite the regular expression without look-around");
            continue;
        }
        out.push(json!({"attribute": attr, "operator": op, "value": value}));
    }
    out
}
