//! One Marathon pod to an App spec (pure): pod-level fields, scaling and scheduling, then its
//! containers (pod environment merged in, one user and one kill grace period for the pod).

use super::constraints::pod_constraints;
use super::{APP_STATE, Site, Walk, drop_backoff, start};
use crate::import::{Cx, Effect, State, carry, idx, key, put, spec_schema};
use serde_json::{Map, Value, json};

/// A container's kill grace period: seconds, the value as written, and its JSON path.
type Grace = (f64, Value, String);

pub(super) fn pod(s: &Site, p: &Map<String, Value>, w: &mut Walk, st: &mut State) {
    let path = s.path;
    let Some((mut pending, mut cx)) = start(s, p, true, st) else { return };
    let schema = spec_schema("App", &[]);
    let props = &schema["properties"];
    let mut spec = Map::new();
    for (k, v) in p {
        let kp = key(path, k);
        match k.as_str() {
            "id" | "dependencies" | "environment" | "containers" => {}
            f if APP_STATE.contains(&f) => {}
            "labels" | "user" | "secrets" | "volumes" | "networks" | "role" => {
                put(&mut spec, props, k, v, &kp, &mut cx)
            }
            "scaling" => {
                for (sk, sv) in v.as_object().into_iter().flatten() {
                    let sp = key(&kp, sk);
                    match sk.as_str() {
                        "instances" => put(&mut spec, props, "instances", sv, &sp, &mut cx),
                        "kind" if sv.as_str() == Some("fixed") => {}
                        _ => cx.drop_field(&sp, &format!("scaling.{sk}"), sv),
                    }
                }
            }
            "scheduling" => scheduling(v, &kp, props, &mut spec, &mut cx),
            _ => cx.drop_field(&kp, k, v),
        }
    }
    let grace = containers(p, path, props, &mut spec, &mut cx);
    if let Some((first, _, _)) = grace.first() {
        spec.insert("taskKillGracePeriodSeconds".into(), json!(grace.iter().map(|g| g.0).fold(*first, f64::max)));
        if grace.iter().any(|g| g.0 != *first) {
            for (_, original, gp) in &grace {
                cx.loss(
                    Effect::Approximated,
                    gp,
                    Some(original),
                    "Kubernetes has one termination grace period per pod; the longest is used",
                    "nothing, unless a container must be killed sooner",
                );
            }
        }
    }
    pending.spec = spec;
    w.apps.push(pending);
}

/// `scheduling`: backoff, upgrade, kill selection, unreachable strategy and placement.
fn scheduling(v: &Value, kp: &str, props: &Value, spec: &mut Map<String, Value>, cx: &mut Cx) {
    for (sk, sv) in v.as_object().into_iter().flatten() {
        let sp = key(kp, sk);
        match sk.as_str() {
            "backoff" => {
                for (bk, bv) in sv.as_object().into_iter().flatten() {
                    let bp = key(&sp, bk);
                    match bk.as_str() {
                        "backoff" | "backoffFactor" | "maxLaunchDelay" => drop_backoff(bk, bv, &bp, cx),
                        _ => cx.drop_field(&bp, &format!("scheduling.backoff.{bk}"), bv),
                    }
                }
            }
            "upgrade" => put(spec, props, "upgradeStrategy", sv, &sp, cx),
            "killSelection" | "unreachableStrategy" => put(spec, props, sk, sv, &sp, cx),
            "placement" => {
                for (pk, pv) in sv.as_object().into_iter().flatten() {
                    let pp = key(&sp, pk);
                    match pk.as_str() {
                        "acceptedResourceRoles" => put(spec, props, pk, pv, &pp, cx),
                        "constraints" => {
                            let cs = pod_constraints(pv, &pp, cx);
                            if !cs.is_empty() {
                                spec.insert("constraints".into(), Value::Array(cs));
                            }
                        }
                        _ => cx.drop_field(&pp, &format!("scheduling.placement.{pk}"), pv),
                    }
                }
            }
            _ => cx.drop_field(&sp, &format!("scheduling.{sk}"), sv),
        }
    }
}

/// The pod's containers into `spec.containers`; returns their kill grace periods.
fn containers(
    p: &Map<String, Value>,
    path: &str,
    props: &Value,
    spec: &mut Map<String, Value>,
    cx: &mut Cx,
) -> Vec<Grace> {
    let pod_env = p.get("environment").cloned().unwrap_or(Value::Null);
    let pod_user = p.get("user").and_then(Value::as_str).map(str::to_string);
    let mut grace: Vec<Grace> = Vec::new();
    let mut containers = Vec::new();
    let cschema = &props["containers"]["items"];
    for (i, c) in p.get("containers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let cp = idx(&key(path, "containers"), i);
        let Some(cm) = c.as_object() else {
            cx.error(&cp, "a pod container must be a JSON object");
            continue;
        };
        let mut cm = cm.clone();
        // Pod-level environment applies to every container; the container's own wins.
        if let Some(penv) = pod_env.as_object() {
            let mut env = penv.clone();
            if let Some(own) = cm.get("environment").and_then(Value::as_object) {
                env.extend(own.clone());
            }
            if !env.is_empty() {
                cm.insert("environment".into(), Value::Object(env));
            }
        }
        if let Some(lc) = cm.remove("lifecycle") {
            if let Some(g) = lc.get("killGracePeriodSeconds").and_then(Value::as_f64) {
                grace.push((
                    g,
                    lc["killGracePeriodSeconds"].clone(),
                    key(&key(&cp, "lifecycle"), "killGracePeriodSeconds"),
                ));
            }
            if let Some(o) = lc.as_object() {
                for (lk, lv) in o {
                    if lk != "killGracePeriodSeconds" {
                        cx.drop_field(&key(&key(&cp, "lifecycle"), lk), "containers.lifecycle", lv);
                    }
                }
            }
        }
        if let Some(u) = cm.remove("user").filter(|u| !u.is_null()) {
            if pod_user.is_none() && !spec.contains_key("user") && u.is_string() {
                spec.insert("user".into(), u);
            } else if u.as_str() != spec.get("user").and_then(Value::as_str) {
                cx.loss(
                    Effect::Dropped,
                    &key(&cp, "user"),
                    Some(&u),
                    "the App kind has one user for the whole pod",
                    "set runAsUser on this container with a patch",
                );
            }
        }
        if let Some(Value::Object(out)) = carry(&Value::Object(cm), cschema, &cp, "containers", cx) {
            containers.push(Value::Object(out));
        }
    }
    spec.insert("containers".into(), Value::Array(containers));
    grace
}
