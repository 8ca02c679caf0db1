//! Metronome jobs and schedules to Jobs (pure).
//!
//! A document is a job (an object with `run`), a list of jobs (`GET /v1/jobs?embed=schedules`),
//! a schedule (an object with `cron`, the body of `POST /v1/jobs/{id}/schedules`) or a list of
//! schedules (`GET /v1/jobs/{id}/schedules`). A schedule file belongs to the job whose id is
//! the file name without `.json` and a `.schedule`/`.schedules` suffix
//! (`ops.backup.schedule.json`), or to the only job of the import.

use super::{Cx, Effect, ImportOptions, Origin, Reason, State, canonical, carry, idx, key, spec_schema};
use crate::constraints::compile_whole;
use crate::ids;
use dromos_crds::JobSpec;
use serde_json::{Map, Value, json};

use super::reason as r;

const REASONS: &[Reason] = &[
    r(
        "run.networks",
        Effect::Dropped,
        "job runs get the pod network; the Job kind has no networks",
        "nothing for most jobs; write a NetworkPolicy if the network isolated the job",
    ),
    r(
        "run.volumes.external",
        Effect::Dropped,
        "external (DVDI) volumes have no Job field",
        "mount a PersistentVolumeClaim with a patch on the run template",
    ),
    r(
        "run.docker.credential",
        Effect::Dropped,
        "Mesos registry credentials have no Job field",
        "create a docker-registry Secret and name it in run.docker.pullConfig.secret",
    ),
];

const JOB_STATE: &[&str] = &["activeRuns", "history", "historySummary"];

/// A job waiting for its schedules and dependencies: each schedule with its input and JSON path.
type Pending = super::Pending<Vec<(Value, String, String)>>;

pub(super) fn import_all(docs: &[(String, Value)], opts: &ImportOptions, st: &mut State) {
    let mut jobs: Vec<Pending> = Vec::new();
    let mut loose: Vec<(String, String, Value)> = Vec::new();
    for (file, v) in docs {
        let items: Vec<(String, &Value)> = match v {
            Value::Array(a) => a.iter().enumerate().map(|(i, x)| (idx("$", i), x)).collect(),
            other => vec![("$".to_string(), other)],
        };
        for (path, it) in items {
            match it {
                Value::Object(m) if m.contains_key("run") => {
                    if let Some(p) = job(file, m, &path, opts, st) {
                        jobs.push(p);
                    }
                }
                Value::Object(m) if m.contains_key("cron") => loose.push((file.clone(), path, it.clone())),
                _ => st.error(file, &path, "expected a Metronome job (with `run`) or schedule (with `cron`)"),
            }
        }
    }
    for (file, path, sched) in loose {
        let stem = file.rsplit('/').next().unwrap_or(&file);
        let stem = stem.strip_suffix(".json").unwrap_or(stem);
        let stem = [".schedules", ".schedule", "-schedules", "-schedule"]
            .iter()
            .find_map(|s| stem.strip_suffix(s))
            .unwrap_or(stem);
        let target = match jobs.iter().position(|j| j.id == stem) {
            Some(i) => Some(i),
            None if jobs.len() == 1 => Some(0),
            None => None,
        };
        match target {
            Some(i) => jobs[i].extra.push((sched, file, path)),
            None => st.error(
                &file,
                &path,
                format!(
                    "cannot tell which job this schedule belongs to: no imported job has the id `{stem}`; name the file `<job id>.schedule.json`"
                ),
            ),
        }
    }
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    for j in jobs {
        emit(j, &ids, st);
    }
}

fn job(file: &str, m: &Map<String, Value>, path: &str, opts: &ImportOptions, st: &mut State) -> Option<Pending> {
    let Some(id) = m.get("id").and_then(Value::as_str) else {
        st.error(file, &key(path, "id"), "missing `id` (a string)");
        return None;
    };
    let segs = match ids::parse_job_id(id) {
        Ok(s) => s,
        Err(e) => {
            st.error(file, &key(path, "id"), e);
            return None;
        }
    };
    let loc = ids::location_of(&segs);
    let namespace = loc.namespace.unwrap_or_else(|| opts.default_namespace.clone());
    let name = loc.name;
    let mut cx = Origin { kind: "Job", file, path, namespace: &namespace, name: &name }.cx(REASONS, st);
    let mut body = m.clone();
    for k in JOB_STATE {
        body.remove(*k);
    }
    let schedules = body.remove("schedules");
    let deps = body.remove("dependencies");
    let Some(Value::Object(mut spec)) = carry(&Value::Object(body), spec_schema("Job", &[]), path, "", &mut cx) else {
        return None;
    };
    fix_placement(&mut spec, path, &mut cx);
    clean_volumes(&mut spec, path, &mut cx);
    let mut deps_out = Vec::new();
    if let Some(d) = deps.filter(|d| !d.is_null()) {
        let dp = key(path, "dependencies");
        match d.as_array() {
            Some(list) => {
                for (i, x) in list.iter().enumerate() {
                    match x.get("id").and_then(Value::as_str).or(x.as_str()) {
                        Some(s) => deps_out.push((s.to_string(), key(&idx(&dp, i), "id"))),
                        None => cx.error(&idx(&dp, i), "a dependency is {\"id\": \"job.id\"}"),
                    }
                }
            }
            None => cx.error(&dp, "dependencies must be a list of {id}"),
        }
    }
    let mut scheds = Vec::new();
    if let Some(s) = schedules.filter(|s| !s.is_null()) {
        let sp = key(path, "schedules");
        match s.as_array() {
            Some(list) => {
                for (i, x) in list.iter().enumerate() {
                    scheds.push((x.clone(), file.to_string(), idx(&sp, i)));
                }
            }
            None => cx.error(&sp, "schedules must be a list"),
        }
    }
    Some(Pending {
        file: file.into(),
        path: path.into(),
        id: id.into(),
        namespace,
        name,
        spec,
        deps: deps_out,
        extra: scheds,
    })
}

/// Metronome placement knows IS, EQ, LIKE and UNLIKE; anything else is reported and left out.
fn fix_placement(spec: &mut Map<String, Value>, path: &str, cx: &mut Cx) {
    let Some(list) = spec
        .get_mut("run")
        .and_then(|r| r.get_mut("placement"))
        .and_then(|p| p.get_mut("constraints"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let base = key(&key(&key(path, "run"), "placement"), "constraints");
    let mut i = 0;
    list.retain(|c| {
        let p = idx(&base, i);
        i += 1;
        let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
        let value = c.get("value").and_then(Value::as_str);
        let problem = match op {
            "IS" | "EQ" if value.is_some() => None,
            "LIKE" | "UNLIKE" => match value {
                Some(v) => compile_whole(v).err(),
                None => Some(format!("{op} needs a regular expression")),
            },
            "IS" | "EQ" => Some(format!("{op} needs a value")),
            other => Some(format!("operator `{other}` is not IS, EQ, LIKE or UNLIKE")),
        };
        match problem {
            None => true,
            Some(why) => {
                cx.loss(Effect::Dropped, &p, Some(c), why, "rewrite the constraint with IS, LIKE or UNLIKE");
                false
            }
        }
    });
}

fn clean_volumes(spec: &mut Map<String, Value>, path: &str, cx: &mut Cx) {
    let Some(vols) = spec.get_mut("run").and_then(|r| r.get_mut("volumes")).and_then(Value::as_array_mut) else {
        return;
    };
    let base = key(&key(path, "run"), "volumes");
    let mut i = 0;
    vols.retain(|v| {
        let keep = v.get("hostPath").is_some() || v.get("secret").is_some();
        if !keep {
            cx.loss(
                Effect::Dropped,
                &idx(&base, i),
                Some(v),
                "the volume has no host path or secret, the sources the Job kind knows",
                "mount the data with a patch on the run template",
            );
        }
        i += 1;
        keep
    });
}

fn emit(mut j: Pending, ids: &[String], st: &mut State) {
    let mut spec = std::mem::take(&mut j.spec);
    let origin = j.origin("Job");
    let mut cx = origin.cx(REASONS, st);
    let sched_schema = &spec_schema("Job", &[])["properties"]["schedules"]["items"];
    let mut schedules = Vec::new();
    for (s, file, path) in &j.extra {
        // Schedules may come from another file: report losses against that file.
        let mut scx = Cx { file, object: cx.object.clone(), reasons: REASONS, kind: "Job", st: &mut *cx.st };
        // `nextRunAt` is state Metronome reports with embedded schedules.
        let mut s = s.clone();
        if let Some(o) = s.as_object_mut() {
            o.remove("nextRunAt");
        }
        let s = &s;
        if let Some(c) = carry(s, sched_schema, path, "schedules", &mut scx) {
            if schedules.is_empty() {
                schedules.push(c);
            } else {
                scx.loss(
                    Effect::Dropped,
                    path,
                    s.get("cron"),
                    "Metronome runs at most one schedule per job",
                    "import the extra schedule as a second job with the same run",
                );
            }
        }
    }
    if !schedules.is_empty() {
        spec.insert("schedules".into(), Value::Array(schedules));
    }
    let mut deps = Vec::new();
    for (d, src) in &j.deps {
        if ids.contains(d) {
            deps.push(json!({"id": d}));
        } else {
            cx.loss(
                Effect::Dropped,
                src,
                Some(&json!(d)),
                format!("dependency `{d}` is not among the imported jobs"),
                "import it in the same run, then add the dependency back",
            );
        }
    }
    if !deps.is_empty() {
        spec.insert("dependencies".into(), Value::Array(deps));
    }
    let Some(spec) = canonical::<JobSpec>(Value::Object(spec), &j.path, &mut cx) else { return };
    origin.emit(vec![format!("Metronome job {} from {} {}", j.id, j.file, j.path)], spec, st);
}
