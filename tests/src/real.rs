//! Helpers of the real-node suites (tests/tests/real_nodes.rs, real_node_loss.rs): the App
//! operator as those tests run it, and waiting on Apps and their pods.

use crate::{Task, TestNamespace, images, wait_for};
use dromos::operators::apps::{self, Context as AppContext};
use dromos::operators::manager::ManagerOptions;
use dromos::operators::scheduler::Options as SchedulerOptions;
use dromos_crds::App;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::ListParams;
use std::sync::Arc;
use std::time::Duration;

/// How long the real-node tests wait for one step.
pub const T: Duration = Duration::from_secs(120);

/// The App operator and the Dromos scheduler scoped to the test's namespace, with the test
/// HTTP image as the image of Apps that give only `cmd` (Marathon ran those on the agent) and
/// the test fetch image for `fetch` URIs.
pub fn operator(c: &Client, ns: &TestNamespace) -> (Arc<AppContext>, Task) {
    let render = dromos_core::RenderOptions {
        default_image: images::HTTP.into(),
        fetch_image: images::FETCH.into(),
        ..Default::default()
    };
    let opts = ManagerOptions {
        scope: dromos::scope::Scope::namespace(ns.name.clone()),
        apps: Some(apps::Options { concurrency: 4, render }),
        scheduler: Some(SchedulerOptions { offers: false, ..Default::default() }),
        ..Default::default()
    };
    let (m, task) = crate::operators(c, opts);
    (m.context().expect("the App operator"), task)
}

pub async fn app_where(ns: &TestNamespace, name: &str, what: &str, f: impl Fn(&App) -> bool) -> App {
    let api = ns.api::<App>();
    let last = std::sync::Mutex::new(None::<App>);
    let found = tokio::time::timeout(T, async {
        loop {
            if let Ok(a) = api.get(name).await {
                if f(&a) {
                    return a;
                }
                *last.lock().unwrap() = Some(a);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        let st = last.lock().unwrap().as_ref().and_then(|a| a.status.clone());
        panic!("timed out after {T:?} waiting for {name}: {what}; last status: {st:#?}")
    })
}

pub fn counts(a: &App) -> (i32, i32, i32, i32) {
    let s = a.status.clone().unwrap_or_default();
    (s.running.unwrap_or(0), s.healthy.unwrap_or(0), s.unhealthy.unwrap_or(0), s.restarts.unwrap_or(0))
}

pub fn state(a: &App) -> &str {
    a.status.as_ref().and_then(|s| s.state.as_deref()).unwrap_or("")
}

/// The one pod of App `name`, once it runs on a node and has an IP.
pub async fn the_pod(ns: &TestNamespace, name: &str) -> Pod {
    let api = ns.api::<Pod>();
    wait_for(&format!("a running pod of {name}"), T, || async {
        let l = api.list(&ListParams::default().labels(&format!("dromos.io/app={name}"))).await.ok()?;
        let live: Vec<Pod> = l.items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
        (live.len() == 1 && live[0].status.as_ref()?.pod_ip.is_some()).then(|| live[0].clone())
    })
    .await
}

pub fn pod_ip(p: &Pod) -> String {
    p.status.as_ref().and_then(|s| s.pod_ip.clone()).expect("a pod IP")
}
