//! The App scale subresource against the real control plane: `kubectl scale app/NAME` (the
//! control plane's own kubectl) and a HorizontalPodAutoscaler change `spec.instances`, the App
//! operator follows, and the status reports the replicas and the selector the subresource reads.

use dromos_crds::App;
use dromos_tests::{
    FakeNodes, NodeSpec, TestNamespace, app_object as app, client, install_crds, run_apps_and_scheduler, unique_suffix,
    wait_for,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

/// The kubectl `tests/cluster/up` built: `<state dir>/bin` names the directory of the binaries,
/// and the state dir holds `KUBECONFIG`.
fn kubectl() -> PathBuf {
    let kubeconfig = std::env::var("KUBECONFIG")
        .expect("KUBECONFIG is unset: start the control plane with tests/cluster/up and export its KUBECONFIG");
    let state = PathBuf::from(&kubeconfig).parent().expect("a state directory").to_path_buf();
    let bin = std::fs::read_to_string(state.join("bin"))
        .unwrap_or_else(|e| panic!("{}/bin: {e}; KUBECONFIG must be the one tests/cluster/up wrote", state.display()));
    PathBuf::from(bin.trim()).join("kubectl")
}

fn run_kubectl(args: &[&str]) -> String {
    let out = std::process::Command::new(kubectl()).args(args).output().expect("kubectl runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "kubectl {args:?} failed: {stdout}{stderr}");
    stdout.into_owned()
}

async fn replicas_become(ns: &TestNamespace, n: i32, why: &str) -> App {
    let (apps, deps) = (ns.api::<App>(), ns.api::<Deployment>());
    wait_for(&format!("{why}: {n} instances, Deployment and status"), T, || {
        let (apps, deps) = (apps.clone(), deps.clone());
        async move {
            let a = apps.get("web").await.ok()?;
            let d = deps.get("web").await.ok()?;
            let st = a.status.clone()?;
            let ok = a.spec.instances == Some(n)
                && d.spec.as_ref()?.replicas == Some(n)
                && st.replicas == Some(n)
                && st.running == Some(n);
            ok.then_some(a)
        }
    })
    .await
}

#[tokio::test]
async fn kubectl_scale_and_an_hpa_scale_an_app_through_its_scale_subresource() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "scale").await;
    let group = format!("g{}", unique_suffix());
    let mut nodes = NodeSpec::new("scale", 2);
    nodes.labels.insert("testgroup".into(), group.clone());
    let _nodes = FakeNodes::create(&c, &nodes).await;
    let (_apps, _sched, _task) = run_apps_and_scheduler(
        &c,
        &ns.name,
        dromos::operators::scheduler::Options { offers: false, ..Default::default() },
    );
    let spec = json!({"cmd": "sleep 1000", "instances": 1, "cpus": 0.01, "mem": 16,
        "constraints": [["testgroup", "IS", group]]});
    ns.api::<App>().create(&PostParams::default(), &app("web", spec)).await.unwrap();
    let a = replicas_become(&ns, 1, "created").await;
    // The version is recorded when the first deployment finishes (its instance healthy), which
    // can come a status write after the instance runs.
    let apps = ns.api::<App>();
    let version =
        wait_for("the first deployment finished", T, || async { apps.get("web").await.ok()?.status?.version }).await;
    let version = Some(version);
    assert_eq!(a.status.as_ref().unwrap().selector.as_deref(), Some("dromos.io/app=web"));

    // kubectl scale writes spec.instances through the subresource; the operator follows
    // without a new version (scaling replaces no instance).
    let out = run_kubectl(&["scale", "app/web", "-n", &ns.name, "--replicas=3"]);
    assert!(out.contains("scaled"), "{out}");
    let a = replicas_become(&ns, 3, "kubectl scale").await;
    assert_eq!(a.status.as_ref().unwrap().version, version);
    let scale: serde_json::Value =
        serde_json::from_str(&run_kubectl(&["get", "app", "web", "-n", &ns.name, "--subresource=scale", "-o", "json"]))
            .unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!((scale["spec"]["replicas"].as_i64(), scale["status"]["replicas"].as_i64()), (Some(3), Some(3)));
    assert_eq!(scale["status"]["selector"], "dromos.io/app=web");

    // A HorizontalPodAutoscaler targets the App like a Deployment: below minReplicas it scales
    // up without needing metrics.
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "dromos.io/v1alpha1", "kind": "App", "name": "web"},
            "minReplicas": 4, "maxReplicas": 6,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}
    }))
    .unwrap();
    let hpas: Api<HorizontalPodAutoscaler> = ns.api();
    hpas.create(&PostParams::default(), &hpa).await.unwrap();
    replicas_become(&ns, 4, "the HPA's minReplicas").await;
    let h = wait_for("the HPA to record its scale", T, || {
        let hpas = hpas.clone();
        async move { hpas.get("web").await.ok().filter(|h| h.status.as_ref().is_some_and(|s| s.desired_replicas == 4)) }
    })
    .await;
    assert_eq!(h.status.unwrap().desired_replicas, 4);
    ns.delete().await;
}

/// `dromos sync` of an App marked `dromos.io/autoscaled: "true"`: after `kubectl scale`, a
/// resync writes nothing and keeps the scaled instances; without the mark Git's value returns.
#[tokio::test]
async fn a_sync_leaves_the_instances_of_an_autoscaled_app_to_the_scale_subresource() {
    use dromos::local::{InventoryStore, sync_dir};
    use dromos::sync::{Resolver, SyncSettings};
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "scalesync").await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = |autoscaled: &str| {
        format!(
            "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: web\n  annotations: {{dromos.io/autoscaled: \"{autoscaled}\"}}\nspec: {{cmd: sleep 1000, instances: 2}}\n"
        )
    };
    std::fs::write(dir.path().join("web.yaml"), manifest("true")).unwrap();
    let store = InventoryStore { namespace: ns.name.clone(), name: "scale".into() };
    let settings = SyncSettings {
        source: "local.scale".into(),
        force: false,
        force_owned: true,
        plan: Default::default(),
        concurrency: 2,
        default_namespace: ns.name.clone(),
        limiter: None,
        scope: Default::default(),
        written: None,
    };
    let mut resolver = Resolver::default();
    let instances = || async { ns.api::<App>().get("web").await.unwrap().spec.instances };
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((o.applied, o.failures.len()), (1, 0));
    assert_eq!(instances().await, Some(2), "Git's value creates the App");

    run_kubectl(&["scale", "app/web", "-n", &ns.name, "--replicas=4"]);
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((o.applied, o.writes, o.failures.len()), (0, 0, 0), "nothing to apply: {:?}", o.failures);
    assert_eq!(instances().await, Some(4), "the sync keeps the scaled instances");

    // Handing the field back to Git: the next sync restores Git's value.
    std::fs::write(dir.path().join("web.yaml"), manifest("false")).unwrap();
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((o.applied, o.failures.len()), (1, 0), "{:?}", o.failures);
    assert_eq!(instances().await, Some(2));
    ns.delete().await;
}
