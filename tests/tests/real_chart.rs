//! Dromos installed as a platform team installs it: the image built by `image/build`, imported
//! into a real node's containerd, the chart installed with `helm install`, the controller
//! running in a pod on the real node and syncing the examples from a Git server over HTTP, then
//! `helm upgrade` to another image tag (whose CRD hook replaces a stale CRD) and `helm uninstall`.
//!
//! Needs `tests/cluster/up --real-nodes 1` and KWOK nodes beside it (the examples' Apps run on
//! KWOK nodes; the controller on the real one). CI:
//! `DROMOS_REAL_NODES=1 tests/cluster/with-cluster cargo test -p dromos-tests --test real_chart`.
//! Its own test binary (`test = false`): cargo runs test binaries one after another, so the
//! cluster-wide controller it installs never meets the operators of the real-node tests.
//!
//! The pod runs with `hostNetwork: true` and `KUBERNETES_SERVICE_HOST=127.0.0.1`: the test
//! cluster has no kube-proxy, so the `kubernetes` Service does not route, and its API server
//! listens on loopback only (chart README, "Clusters without a Service network").

use dromos_crds::GitSource;
use dromos_tests::chart::{chart_dir, helm, repo_root};
use dromos_tests::githttp::GitHttpServer;
use dromos_tests::{TestNamespace, client, http_get, install_crds, real_nodes, unique_suffix, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(180);
const IMAGE: &str = "dromos.test/dromos";

/// The state directory of the running cluster: the kubeconfig lies in it.
fn state_dir() -> PathBuf {
    let kubeconfig = std::env::var("KUBECONFIG").expect("KUBECONFIG (run through tests/cluster/with-cluster)");
    Path::new(&kubeconfig).parent().expect("the kubeconfig's directory").to_path_buf()
}

/// The API server's port, from the kubeconfig's `server:` URL.
fn api_port() -> u16 {
    let text = std::fs::read_to_string(state_dir().join("kubeconfig")).expect("read the kubeconfig");
    let server = text.lines().find_map(|l| l.trim().strip_prefix("server:")).expect("server: in the kubeconfig");
    server.trim().trim_matches('"').rsplit(':').next().unwrap().parse().expect("the API server's port")
}

/// Runs a command to its end; panics with its output when it fails.
fn run(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the Dromos image of this tree's binary as `dromos.test/dromos:TAG` with `image/build`
/// (the image's one definition) and imports it into the containerd of every real node.
fn build_and_import(tag: &str, nodes: &[String], out: &Path) {
    let bin = dromos_tests::dromos_bin();
    for node in nodes {
        let sock = state_dir().join("real").join(node).join("containerd.sock");
        assert!(sock.exists(), "no containerd socket for {node} at {}", sock.display());
        run(Command::new(repo_root().join("image/build"))
            .arg("--binary")
            .arg(&bin)
            .args(["--tag", &format!("{IMAGE}:{tag}"), "--level", "1", "--import"])
            .arg(&sock)
            .arg("--out")
            .arg(out));
    }
}

fn helm_cmd() -> Command {
    let mut c = Command::new(helm());
    c.env("KUBECONFIG", state_dir().join("kubeconfig"));
    c
}

/// A free TCP port on this machine (the controller listens on it in the node's network).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Uninstalls the release if the test ends early, so a failure leaves no controller running.
struct Release {
    name: String,
    namespace: String,
    installed: bool,
}

impl Drop for Release {
    fn drop(&mut self) {
        if self.installed {
            let _ = helm_cmd().args(["uninstall", &self.name, "-n", &self.namespace, "--wait"]).output();
        }
    }
}

/// Every object `helm get manifest` lists, as (apiVersion, kind, namespace, name).
fn manifest_objects(release: &str, namespace: &str) -> Vec<(String, String, Option<String>, String)> {
    let text = run(helm_cmd().args(["get", "manifest", release, "-n", namespace]));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("helm's manifest is YAML");
    docs.into_iter()
        .filter(|d| d.is_object())
        .map(|d| {
            (
                d["apiVersion"].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
                d["metadata"]["namespace"].as_str().map(str::to_string),
                d["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn source_at(sources: &Api<GitSource>, name: &str, revision: &str, what: &str) -> GitSource {
    wait_for(what, T, || async {
        let gs = sources.get_opt(name).await.ok().flatten()?;
        let st = gs.status.as_ref()?;
        let ready = st.common.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
        let at = st.last_applied_revision.as_deref().is_some_and(|r| r.contains(revision));
        (ready && at).then_some(gs)
    })
    .await
}

/// The controller's pod of the release (the one not being deleted), once Ready.
async fn ready_pod(admin: &Client, ns: &str, image: &str) -> Pod {
    let pods: Api<Pod> = Api::namespaced(admin.clone(), ns);
    wait_for(&format!("a Ready controller pod running {image}"), T, || async {
        let list = pods.list(&ListParams::default().labels("app.kubernetes.io/name=dromos")).await.ok()?;
        list.items.into_iter().find(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.spec.as_ref().is_some_and(|s| s.containers[0].image.as_deref() == Some(image))
                && p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
    })
    .await
}

#[tokio::test]
async fn the_chart_runs_the_controller_image_on_a_real_node_syncs_the_examples_upgrades_and_uninstalls() {
    let admin = client().await;
    install_crds(&admin).await;
    let nodes = real_nodes(&admin).await;
    let work = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    build_and_import("1", &nodes, &work.path().join("dromos-1.oci.tar"));
    build_and_import("2", &nodes, &work.path().join("dromos-2.oci.tar"));
    eprintln!("[real_chart] images built and imported in {:.1} s", t0.elapsed().as_secs_f64());

    // The examples need the quickstart's KWOK capacity: a node for role `storage`, volumes.
    let all_nodes =
        Api::<k8s_openapi::api::core::v1::Node>::all(admin.clone()).list(&Default::default()).await.unwrap();
    let mut said = Vec::new();
    let added = dromos::quickstart::add_capacity(&admin, &all_nodes.items, &mut said).await.unwrap();
    assert!(added, "the examples need KWOK nodes beside the real one: {}", String::from_utf8_lossy(&said));

    // The repository, served over smart HTTP with basic auth on 127.0.0.1: the controller's pod
    // shares the node's network, which is this machine's.
    let served = tempfile::tempdir().unwrap();
    let repo_path = served.path().join("examples.git");
    let files = dromos::quickstart::files_of(&repo_root().join("examples")).unwrap();
    let namespaces: Vec<String> = ["shop", "ops", "reports", "data"].map(String::from).to_vec();
    dromos_tests::wait_namespaces_settled(&admin, &["shop", "ops", "reports", "data"]).await;
    let first = dromos::quickstart::commit_tree(&repo_path, &files, "examples").unwrap();
    let server = GitHttpServer::start(served.path(), "dromos", "s3cret-pass");

    let ns = TestNamespace::new(&admin, "helm").await;
    let release = Release { name: format!("dromos-{}", unique_suffix()), namespace: ns.name.clone(), installed: false };
    let mut release = release;
    // What a platform team sets up beside the chart: the Git credentials, and the
    // ServiceAccount the source applies as (the examples declare Namespaces: cluster-admin).
    let creds: Secret = serde_json::from_value(
        json!({"metadata": {"name": "git-creds"}, "stringData": {"username": "dromos", "password": "s3cret-pass"}}),
    )
    .unwrap();
    ns.api::<Secret>().create(&PostParams::default(), &creds).await.unwrap();
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "platform"}})).unwrap();
    ns.api::<ServiceAccount>().create(&PostParams::default(), &sa).await.unwrap();
    let crbs: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let crb_name = format!("{}-platform", ns.name);
    let crb = serde_json::from_value(json!({
        "metadata": {"name": crb_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "platform", "namespace": ns.name}]
    }))
    .unwrap();
    crbs.create(&PostParams::default(), &crb).await.unwrap();

    let port = free_port();
    let values = json!({
        "image": {"repository": IMAGE, "tag": "1", "pullPolicy": "Never"},
        "replicas": 1,
        "hostNetwork": true,
        "service": {"port": port},
        // The webhook's own listener, also in the node's network.
        "webhook": {"service": {"port": free_port()}},
        "extraEnv": [
            {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
            {"name": "KUBERNETES_SERVICE_PORT", "value": api_port().to_string()}
        ],
        "extraArgs": ["--qps=100"],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}},
        "nodeSelector": {"dromos.io/node-kind": "real"},
        "tolerations": [{"key": "dromos.io/role", "operator": "Equal", "value": "real", "effect": "NoSchedule"}],
        "sources": [{"name": "examples", "spec": {
            "url": format!("http://{}/examples.git", server.addr), "ref": {"branch": "main"},
            "interval": "10s", "prune": true, "allowMassDelete": true,
            "secretRef": {"name": "git-creds"}, "serviceAccountName": "platform"
        }}]
    });
    let values_file = work.path().join("values.json");
    std::fs::write(&values_file, values.to_string()).unwrap();

    // --- helm install -------------------------------------------------------------------------
    let t = Instant::now();
    run(helm_cmd()
        .args(["install", &release.name])
        .arg(chart_dir())
        .args(["-n", &ns.name, "--wait", "--timeout", "3m", "-f"])
        .arg(&values_file));
    release.installed = true;
    eprintln!("[real_chart] helm install --wait returned in {:.1} s", t.elapsed().as_secs_f64());
    let pod = ready_pod(&admin, &ns.name, &format!("{IMAGE}:1")).await;
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap();
    assert!(nodes.contains(&node), "the controller runs on {node}, not on a real node ({nodes:?})");
    let status = pod.status.clone().unwrap();
    let container = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(container.restart_count, 0, "the controller never restarted: {container:?}");
    // runAsNonRoot passed: the kubelet checked the image's numeric User (65532).
    assert!(container.started == Some(true) && container.ready, "{container:?}");
    // It answers on the node's address, where the kubelet probes it, and not on loopback.
    let node_ip = status.pod_ip.clone().unwrap();
    let (code, body) = http_get(&format!("{node_ip}:{port}"), "/readyz").await.expect("the controller answers");
    assert_eq!(code, 200, "{body}");
    assert!(http_get(&format!("127.0.0.1:{port}"), "/readyz").await.is_none(), "listens on the node's address only");

    // The chart's GitSource, synced by the controller in the pod, as the platform account.
    let sources: Api<GitSource> = Api::namespaced(admin.clone(), &ns.name);
    let gs = source_at(&sources, "examples", &first, "the examples synced by the in-cluster controller").await;
    let applied = gs.status.as_ref().unwrap().inventory.len();
    assert!(applied >= 13, "the examples' objects are in the inventory: {:?}", gs.status);
    assert!(server.requests().iter().all(|(_, code)| *code == 200 || *code == 401), "{:?}", server.requests());
    let rows = dromos::quickstart::wait_settled(&admin, &namespaces, Instant::now() + T).await.unwrap();
    let unhealthy: Vec<_> = rows.iter().filter(|r| !r.healthy).collect();
    assert!(
        unhealthy.is_empty(),
        "every example healthy by the in-cluster operators:\n{}",
        dromos::status::table(&rows)
    );
    eprintln!("[real_chart] {} examples healthy {:.1} s after the install", rows.len(), t.elapsed().as_secs_f64());

    // The CRD hook ran at the install on the real node and was deleted when it succeeded.
    let batch: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(admin.clone(), &ns.name);
    assert!(batch.list(&Default::default()).await.unwrap().items.is_empty(), "no hook Job left after the install");

    // --- helm upgrade to image tag 2 ----------------------------------------------------------
    // offers.dromos.io as an older release would have left it (Helm never upgrades crds/): a
    // printer column fewer and a property more. The upgrade's CRD hook must replace it whole.
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let mut stale = crds.get("offers.dromos.io").await.unwrap();
    let version = &mut stale.spec.versions[0];
    let dropped = version.additional_printer_columns.as_mut().unwrap().pop().unwrap().name;
    let schema = version.schema.as_mut().unwrap().open_api_v3_schema.as_mut().unwrap();
    schema
        .properties
        .as_mut()
        .unwrap()
        .get_mut("spec")
        .unwrap()
        .properties
        .get_or_insert_with(Default::default)
        .insert(
            "legacyField".into(),
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps {
                type_: Some("string".into()),
                ..Default::default()
            },
        );
    crds.replace("offers.dromos.io", &Default::default(), &stale).await.unwrap();
    let chart_objects = manifest_objects(&release.name, &ns.name);
    let t = Instant::now();
    run(helm_cmd().args(["upgrade", &release.name]).arg(chart_dir()).args([
        "-n",
        &ns.name,
        "--wait",
        "--timeout",
        "3m",
        "--reuse-values",
        "--set",
        "image.tag=2",
    ]));
    let new_pod = ready_pod(&admin, &ns.name, &format!("{IMAGE}:2")).await;
    assert_ne!(new_pod.name_any(), pod.name_any(), "the upgrade replaced the pod");
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns.name);
    wait_for("the old controller pod gone", T, || async {
        pods.get_opt(&pod.name_any()).await.unwrap().is_none().then_some(())
    })
    .await;
    eprintln!("[real_chart] helm upgrade to :2 done in {:.1} s", t.elapsed().as_secs_f64());
    // The hook (image :2, on the real node) put this version's CRD back before the upgrade.
    let offers = crds.get("offers.dromos.io").await.unwrap();
    let v = &offers.spec.versions[0];
    assert!(v.additional_printer_columns.as_ref().unwrap().iter().any(|c| c.name == dropped), "{dropped} is back");
    let spec = &v.schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap().properties.as_ref().unwrap()["spec"];
    assert!(!spec.properties.as_ref().is_some_and(|p| p.contains_key("legacyField")), "the stale property is gone");
    assert!(batch.list(&Default::default()).await.unwrap().items.is_empty(), "no hook Job left after the upgrade");
    // The new controller works: a commit that removes the hourly report Job is applied.
    let fewer: Vec<(String, Vec<u8>)> = files.iter().filter(|(p, _)| p != "reports/hourly.yaml").cloned().collect();
    let second = dromos::quickstart::commit_tree(&repo_path, &fewer, "no hourly report").unwrap();
    source_at(&sources, "examples", &second, "the next commit synced by the upgraded controller").await;
    let jobs: Api<dromos_crds::Job> = Api::namespaced(admin.clone(), "reports");
    wait_for("Job reports/hourly pruned", T, || async {
        jobs.get_opt("hourly").await.unwrap().is_none().then_some(())
    })
    .await;

    // --- remove what the source applied, then helm uninstall ------------------------------------
    // What a team does before removing Dromos: an empty revision prunes everything (the App
    // operator still runs to release its finalizers); Namespaces are kept (a protected kind).
    let third = dromos::quickstart::commit_tree(&repo_path, &[], "empty").unwrap();
    source_at(&sources, "examples", &third, "the empty revision pruned").await;
    for n in &namespaces {
        let apps: Api<dromos_crds::App> = Api::namespaced(admin.clone(), n);
        wait_for(&format!("Apps in {n} deleted through their finalizers"), T, || async {
            apps.list(&Default::default()).await.ok().filter(|l| l.items.is_empty()).map(|_| ())
        })
        .await;
    }
    let t = Instant::now();
    run(helm_cmd().args(["uninstall", &release.name, "-n", &ns.name, "--wait", "--timeout", "3m"]));
    release.installed = false;
    eprintln!("[real_chart] helm uninstall --wait returned in {:.1} s", t.elapsed().as_secs_f64());

    // Every object of the release is gone, and so are the controller's pods.
    let discovery = Discovery::new(admin.clone()).run().await.unwrap();
    for (api_version, kind, namespace, name) in &chart_objects {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let (ar, caps) = discovery
            .resolve_gvk(&kube::api::GroupVersionKind::gvk(group, version, kind))
            .unwrap_or_else(|| panic!("{api_version} {kind} is served"));
        let api: Api<DynamicObject> = match (caps.scope, namespace) {
            (Scope::Namespaced, ns_name) => {
                Api::namespaced_with(admin.clone(), ns_name.as_deref().unwrap_or(&ns.name), &ar)
            }
            (Scope::Cluster, _) => Api::all_with(admin.clone(), &ar),
        };
        wait_for(&format!("{kind} {name} deleted by helm uninstall"), T, || async {
            api.get_opt(name).await.unwrap().is_none().then_some(())
        })
        .await;
    }
    wait_for("no controller pods", T, || async {
        pods.list(&ListParams::default().labels("app.kubernetes.io/name=dromos"))
            .await
            .ok()
            .filter(|l| l.items.is_empty())
            .map(|_| ())
    })
    .await;
    // What is left in the namespace is what the chart's README lists: the Lease of leader
    // election (and what the test created itself).
    let leftovers = namespaced_leftovers(&admin, &discovery, &ns.name).await;
    let expected = [
        "ConfigMap/kube-root-ca.crt".to_string(),
        "Lease/dromos-controller".to_string(),
        "Secret/git-creds".to_string(),
        "ServiceAccount/default".to_string(),
        "ServiceAccount/platform".to_string(),
    ];
    assert_eq!(leftovers, expected, "left in the release namespace after helm uninstall");
    let leases: Api<Lease> = Api::namespaced(admin.clone(), &ns.name);
    assert!(leases.get_opt("dromos-controller").await.unwrap().is_some());
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns.name);
    assert!(deployments.list(&Default::default()).await.unwrap().items.is_empty());

    // Clean up what the test made: the kept example namespaces, the capacity, the binding.
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    for n in &namespaces {
        let _ = nss.delete(n, &Default::default()).await;
    }
    dromos::quickstart::remove_capacity(&admin).await.unwrap();
    let _ = crbs.delete(&crb_name, &Default::default()).await;
    drop(server);
    ns.delete().await;
}

/// `Kind/name` of every object in `namespace`, over every listable namespaced kind, except
/// Events (records of what happened, kept by the API server for an hour).
async fn namespaced_leftovers(admin: &Client, discovery: &Discovery, namespace: &str) -> Vec<String> {
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced || !caps.supports_operation("list") || is_event(&ar) {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(admin.clone(), namespace, &ar);
            if let Ok(list) = api.list(&Default::default()).await {
                out.extend(list.items.iter().map(|o| format!("{}/{}", ar.kind, o.name_any())));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn is_event(ar: &ApiResource) -> bool {
    ar.kind == "Event"
}
