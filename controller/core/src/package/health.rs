//! Health of the objects a package rendered, from their live JSON (pure).

use serde_json::Value;

/// Health of one rendered object from its live JSON (`None`: not found).
/// Deployments, StatefulSets and DaemonSets are ready when the controller observed the
/// current generation and every replica is updated and ready; Dromos Apps and Jobs when
/// their Ready condition is True for the current generation; anything else exists.
pub fn health(kind: &str, live: Option<&Value>) -> (&'static str, Option<String>) {
    let Some(live) = live else { return ("Missing", Some("not found".into())) };
    let generation = live["metadata"]["generation"].as_i64().unwrap_or(0);
    let st = &live["status"];
    let observed = st["observedGeneration"].as_i64().unwrap_or(0) >= generation;
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let workload = |want: i64, updated: i64, ready: i64| {
        if !observed {
            ("Progressing", Some("the controller has not observed the latest spec".to_string()))
        } else if updated < want || ready < want {
            ("Progressing", Some(format!("{ready}/{want} ready, {updated}/{want} updated")))
        } else {
            ("Ready", None)
        }
    };
    match kind {
        "Deployment" => {
            let want = live["spec"]["replicas"].as_i64().unwrap_or(1);
            if n(&st["replicas"]) > want {
                return ("Progressing", Some(format!("{} old replica(s) still running", n(&st["replicas"]) - want)));
            }
            workload(want, n(&st["updatedReplicas"]), n(&st["availableReplicas"]).min(n(&st["readyReplicas"])))
        }
        "StatefulSet" => {
            let want = live["spec"]["replicas"].as_i64().unwrap_or(1);
            let updated = if st["updateRevision"].is_string() && st["updateRevision"] != st["currentRevision"] {
                n(&st["updatedReplicas"])
            } else {
                n(&st["updatedReplicas"]).max(n(&st["currentReplicas"]))
            };
            workload(want, updated, n(&st["readyReplicas"]))
        }
        "DaemonSet" => {
            let want = n(&st["desiredNumberScheduled"]);
            workload(want, n(&st["updatedNumberScheduled"]), n(&st["numberReady"]))
        }
        "App" | "Job" if live["apiVersion"].as_str().is_some_and(|a| a.starts_with("dromos.io/")) => {
            let conds = st["conditions"].as_array().cloned().unwrap_or_default();
            let ready = conds.iter().find(|c| c["type"] == "Ready");
            match ready {
                Some(c)
                    if c["status"] == "True"
                        && c["observedGeneration"].as_i64().unwrap_or(generation) >= generation =>
                {
                    ("Ready", None)
                }
                Some(c) => ("Progressing", c["message"].as_str().map(str::to_string)),
                None => ("Progressing", Some("no status yet".into())),
            }
        }
        _ => ("Exists", None),
    }
}

/// [`health`] of an object read from a watch cache right after an apply returned
/// `applied_generation`: a cached copy of an older generation still describes the previous
/// spec (its status may say every replica is ready, for the old pods), so it is Progressing
/// until the cache has caught up.
pub fn health_after_apply(
    kind: &str,
    live: Option<&Value>,
    applied_generation: Option<i64>,
) -> (&'static str, Option<String>) {
    let cached = live.and_then(|v| v["metadata"]["generation"].as_i64());
    match (cached, applied_generation) {
        (Some(c), Some(a)) if c < a => ("Progressing", Some(format!("waiting to observe generation {a}"))),
        _ => health(kind, live),
    }
}
