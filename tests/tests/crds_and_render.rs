//! The generated CRDs install on the real API server, and everything `dromos render` produces
//! for the examples is accepted by it (server-side apply, dry run), CRD schemas included.

use dromos_tests::{TestNamespace, client, install_crds};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use std::path::Path;

#[tokio::test]
async fn crds_install_and_the_api_server_enforces_their_schema() {
    let c = client().await;
    install_crds(&c).await;
    let ns = TestNamespace::new(&c, "crds").await;
    let ar = ApiResource {
        group: "dromos.io".into(),
        version: "v1alpha1".into(),
        api_version: "dromos.io/v1alpha1".into(),
        kind: "App".into(),
        plural: "apps".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(c.clone(), &ns.name, &ar);
    let good: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "App", "metadata": {"name": "web"},
        "spec": {"cmd": "serve", "instances": 2, "constraints": [["hostname", "UNIQUE"]], "env": {"A": "b", "S": {"secret": "s"}}}
    }))
    .unwrap();
    api.patch("web", &PatchParams::apply("dromos-tests"), &Patch::Apply(&good)).await.expect("valid App is accepted");
    let stored = api.get("web").await.unwrap();
    assert_eq!(stored.data["spec"]["instances"], 2);
    assert_eq!(stored.data["spec"]["env"]["S"]["secret"], "s");

    // Wrong types and unknown fields are refused by the API server's strict field validation.
    let bad: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "App", "metadata": {"name": "bad"},
        "spec": {"cmd": "serve", "instances": "two"}
    }))
    .unwrap();
    let err = api.patch("bad", &PatchParams::apply("dromos-tests"), &Patch::Apply(&bad)).await.unwrap_err();
    assert!(err.to_string().contains("instances"), "{err}");
    ns.delete().await;
}

#[tokio::test]
async fn every_rendered_example_object_is_accepted_by_the_api_server() {
    let c = client().await;
    install_crds(&c).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("examples");
    let files: Vec<dromos_core::SourceFile> = walk(&root)
        .into_iter()
        .map(|p| dromos_core::SourceFile {
            path: p.strip_prefix(&root).unwrap().to_string_lossy().into_owned(),
            bytes: std::fs::read(&p).unwrap(),
        })
        .collect();
    let tree = dromos_core::check_tree(&files, &Default::default());
    assert!(tree.is_valid(), "{:?}", tree.diagnostics);
    let rendered = dromos_core::render::render_manifests(&tree.manifests, &Default::default());
    assert!(rendered.objects.len() > 20);

    // Namespaces are created for real (dry-run objects cannot live in a dry-run namespace);
    // everything else is validated by a dry-run server-side apply.
    let discovery = Discovery::new(c.clone()).run().await.expect("discovery");
    let pp = PatchParams::apply("dromos-tests");
    let dry = PatchParams::apply("dromos-tests").force().dry_run();
    let mut created_ns = vec![];
    for obj in &rendered.objects {
        let kind = obj["kind"].as_str().unwrap();
        let (group, version) = match obj["apiVersion"].as_str().unwrap().rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), obj["apiVersion"].as_str().unwrap().to_string()),
        };
        let gvk = kube::api::GroupVersionKind::gvk(&group, &version, kind);
        let (ar, caps) = discovery.resolve_gvk(&gvk).unwrap_or_else(|| panic!("API server does not serve {gvk:?}"));
        let name = obj["metadata"]["name"].as_str().unwrap();
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Cluster => Api::all_with(c.clone(), &ar),
            Scope::Namespaced => {
                Api::namespaced_with(c.clone(), obj["metadata"]["namespace"].as_str().unwrap_or("default"), &ar)
            }
        };
        let dynobj: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
        if kind == "Namespace" {
            // Another test (the chart test) may have just deleted this namespace: wait until it
            // is gone, since a terminating namespace refuses new objects.
            let nsapi: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
            dromos_tests::wait_for(
                &format!("namespace {name} not terminating"),
                std::time::Duration::from_secs(180),
                || {
                    let nsapi = nsapi.clone();
                    async move {
                        match nsapi.get_opt(name).await.ok()? {
                            Some(n) if n.metadata.deletion_timestamp.is_some() => None,
                            _ => Some(()),
                        }
                    }
                },
            )
            .await;
            api.patch(name, &pp, &Patch::Apply(&dynobj)).await.unwrap_or_else(|e| panic!("{kind}/{name}: {e}"));
            created_ns.push(name.to_string());
        } else {
            api.patch(name, &dry, &Patch::Apply(&dynobj))
                .await
                .unwrap_or_else(|e| panic!("{kind} {name} was refused: {e}\n{obj:#}"));
        }
    }
    let nsapi: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    for n in created_ns {
        let _ = nsapi.delete(&n, &Default::default()).await;
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if dromos_core::load::is_manifest_path(&p.to_string_lossy()) {
            out.push(p);
        }
    }
    out.sort();
    out
}
