//! Validation of one Job alone (pure): what runs, resources, placement, schedules.

use super::{check_env, check_pull_config, check_resources};
use crate::constraints;
use crate::diag::Diagnostic;
use crate::ids;
use crate::load::Manifest;
use crate::schedule;
use dromos_crds::job::Job;

/// Every rule of one Job.
pub(super) fn validate_job(m: &Manifest, job: &Job, out: &mut Vec<Diagnostic>) {
    let s = &job.spec;
    let r = &s.run;
    if let Some(id) = &s.id
        && let Err(e) = ids::parse_job_id(id)
    {
        out.push(m.error("invalid-id", "spec.id", e));
    }
    if r.cmd.is_some() && r.args.is_some() {
        out.push(m.error("cmd-and-args", "spec.run.args", "`cmd` and `args` are mutually exclusive"));
    }
    let image = r
        .docker
        .as_ref()
        .map(|d| d.image.as_str())
        .or(r.ucr.as_ref().map(|u| u.image.id.as_str()))
        .filter(|i| !i.is_empty());
    if r.cmd.is_none() && r.args.is_none() && image.is_none() {
        out.push(m.error(
            "nothing-to-run",
            "spec.run",
            "a job run needs `cmd`, `args` or an image (`docker` or `ucr`)",
        ));
    }
    if r.docker.is_some() && r.ucr.is_some() {
        out.push(m.error("invalid-value", "spec.run.ucr", "`docker` and `ucr` are mutually exclusive"));
    }
    check_resources(m, "spec.run", r.cpus, r.mem, r.disk, r.gpus, out);
    check_env(m, "spec.run.env", &r.env, &r.secrets, out);
    check_pull_config(m, "spec.run.docker", r.docker.as_ref(), &r.secrets, out);
    check_job_placement(m, job, out);
    if let Some(rs) = &r.restart
        && rs.active_deadline_seconds.is_some_and(|v| v < 0)
    {
        out.push(m.error(
            "out-of-range",
            "spec.run.restart.activeDeadlineSeconds",
            "activeDeadlineSeconds must be 0 or more",
        ));
    }
    if r.max_launch_delay.is_some_and(|v| v < 1) {
        out.push(m.error("out-of-range", "spec.run.maxLaunchDelay", "maxLaunchDelay must be at least 1"));
    }
    check_schedules(m, job, out);
}

/// `run.placement.constraints`: Metronome's IS, EQ, LIKE and UNLIKE.
fn check_job_placement(m: &Manifest, job: &Job, out: &mut Vec<Diagnostic>) {
    let r = &job.spec.run;
    if let Some(pl) = &r.placement {
        for (i, c) in pl.constraints.iter().enumerate() {
            let p = format!("spec.run.placement.constraints[{i}]");
            match c.operator.as_str() {
                "IS" | "EQ" => {
                    if c.value.is_none() {
                        out.push(m.error("invalid-constraint", &p, format!("{} needs a value", c.operator)));
                    }
                }
                "LIKE" | "UNLIKE" => match &c.value {
                    None => out.push(m.error(
                        "invalid-constraint",
                        &p,
                        format!("{} needs a regular expression", c.operator),
                    )),
                    Some(v) => {
                        if let Err(e) = constraints::compile_whole(v) {
                            out.push(m.error("invalid-constraint", &format!("{p}.value"), e));
                        }
                    }
                },
                other => {
                    let mut d = m.error(
                        "invalid-constraint",
                        &format!("{p}.operator"),
                        format!("job constraint operator `{other}` is not IS, EQ, LIKE or UNLIKE"),
                    );
                    if let Some(c) = crate::diag::closest(other, ["IS", "EQ", "LIKE", "UNLIKE"]) {
                        d = d.with_hint(format!("did you mean `{c}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
}

/// `schedules` (Metronome) or `schedule` (Chronos), and not both with dependencies.
fn check_schedules(m: &Manifest, job: &Job, out: &mut Vec<Diagnostic>) {
    let s = &job.spec;
    if s.schedules.len() > 1 {
        out.push(
            m.error("too-many-schedules", "spec.schedules", "Metronome allows at most one schedule per job")
                .with_hint("split the job, or use one cron expression"),
        );
    }
    for (i, sc) in s.schedules.iter().enumerate() {
        let p = format!("spec.schedules[{i}]");
        if let Err(e) = schedule::parse_cron(&sc.cron) {
            out.push(m.error("invalid-cron", &format!("{p}.cron"), e));
        }
        if let Some(tz) = &sc.timezone
            && let Err(e) = schedule::parse_time_zone(tz)
        {
            let mut d = m.error("invalid-time-zone", &format!("{p}.timezone"), e);
            if let Some(c) = crate::diag::closest(tz, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())) {
                d = d.with_hint(format!("did you mean `{c}`?"));
            }
            out.push(d);
        }
        if let Some(d) = sc.starting_deadline_seconds
            && d < 60
        {
            out.push(m.error(
                "out-of-range",
                &format!("{p}.startingDeadlineSeconds"),
                format!("startingDeadlineSeconds {d} must be at least 60"),
            ));
        }
    }
    if let Some(sched) = &s.schedule {
        match schedule::parse_iso8601(sched) {
            Err(e) => out.push(m.error("invalid-schedule", "spec.schedule", e)),
            Ok(ri) if ri.period.seconds.fract() != 0.0 => out.push(
                m.error(
                    "invalid-schedule",
                    "spec.schedule",
                    format!("period of `{sched}` has a fraction of a second; runs are scheduled in whole seconds"),
                )
                .with_hint("use whole seconds, e.g. `PT1S`"),
            ),
            Ok(_) => {}
        }
        if !s.schedules.is_empty() {
            out.push(m.error(
                "two-schedules",
                "spec.schedule",
                "`schedule` (Chronos) and `schedules` (Metronome) are mutually exclusive",
            ));
        }
    } else if s.schedule_time_zone.is_some() {
        out.push(m.warning("unused-field", "spec.scheduleTimeZone", "scheduleTimeZone only applies to `schedule`"));
    }
    if let Some(tz) = &s.schedule_time_zone
        && let Err(e) = schedule::parse_time_zone(tz)
    {
        out.push(m.error("invalid-time-zone", "spec.scheduleTimeZone", e));
    }
    let scheduled = s.schedule.is_some() || !s.schedules.is_empty();
    let dependent = !s.dependencies.is_empty() || !s.parents.is_empty();
    if scheduled && dependent {
        let path = if !s.parents.is_empty() { "spec.parents" } else { "spec.dependencies" };
        out.push(
            m.error("schedule-and-dependencies", path, "a job runs on a schedule or after its dependencies, not both")
                .with_hint("remove the schedule, or the dependencies/parents"),
        );
    }
}
