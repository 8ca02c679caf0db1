//! `dromos sync DIR` (local mode) against the real control plane: apply, zero-write resync,
//! prune through the inventory ConfigMap, invalid trees apply nothing, conflicts reported.

use dromos::local::{InventoryStore, sync_dir};
use dromos::sync::{Resolver, SyncSettings};
use dromos_core::plan::PlanOptions;
use dromos_tests::{TestNamespace, client};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};

/// A local source named `name` syncing into the test namespace, inventory kept there too.
fn local_source(ns: &TestNamespace, name: &str) -> (InventoryStore, SyncSettings) {
    let store = InventoryStore { namespace: ns.name.clone(), name: name.into() };
    let settings = SyncSettings {
        source: format!("local.{name}"),
        force: false,
        force_owned: true,
        plan: PlanOptions::default(),
        concurrency: 4,
        default_namespace: ns.name.clone(),
        limiter: None,
        scope: Default::default(),
        written: None,
    };
    (store, settings)
}

fn cm(name: &str, v: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: \"{v}\"}}\n")
}

#[tokio::test]
async fn local_sync_applies_resyncs_without_writes_prunes_and_refuses_invalid_trees() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "local").await;
    let dir = tempfile::tempdir().unwrap();
    for (n, v) in [("a", "1"), ("b", "1"), ("c", "1")] {
        std::fs::write(dir.path().join(format!("{n}.yaml")), cm(n, v)).unwrap();
    }
    let (store, settings) = local_source(&ns, "dev");
    // Report every conflict, even on objects applied before, to test the reporting.
    let settings = SyncSettings { force_owned: false, concurrency: 8, ..settings };
    let mut resolver = Resolver::default();
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((o.applied, o.writes, o.failures.len()), (3, 3, 0));
    let cms = ns.api::<ConfigMap>();
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["v"], "1");
    assert_eq!(store.load(&c).await.unwrap().len(), 3);

    // Nothing changed: zero mutating requests, inventory not rewritten.
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((o.applied, o.writes), (0, 0));

    // A changed and a deleted file.
    std::fs::write(dir.path().join("a.yaml"), cm("a", "2")).unwrap();
    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((o.applied, o.pruned), (1, 1));
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["v"], "2");
    assert!(cms.get_opt("b").await.unwrap().is_none());
    assert_eq!(store.load(&c).await.unwrap().len(), 2);

    // An invalid tree applies nothing.
    std::fs::write(dir.path().join("a.yaml"), cm("a", "3")).unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {name: x}\nspec: {instances: many}\n",
    )
    .unwrap();
    let e = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap_err();
    assert!(format!("{e:#}").contains("bad.yaml:4"), "{e:#}");
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["v"], "2", "nothing applied");
    std::fs::remove_file(dir.path().join("bad.yaml")).unwrap();

    // Another field manager owns a field: reported as a conflict, not forced; prune skipped.
    let other = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": "theirs"}});
    cms.patch("c", &PatchParams::apply("someone-else").force(), &Patch::Apply(&other)).await.unwrap();
    std::fs::write(dir.path().join("c.yaml"), cm("c", "ours")).unwrap();
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!(o.failures.len(), 1, "{:?}", o.failures);
    assert_eq!(o.failures[0].reason, "Conflict");
    assert_eq!(cms.get("c").await.unwrap().data.unwrap()["v"], "theirs");
    let forced = SyncSettings { force: true, ..settings.clone() };
    let o = sync_dir(&c, &mut resolver, dir.path(), &store, &forced).await.unwrap();
    assert!(o.failures.is_empty(), "{:?}", o.failures);
    assert_eq!(cms.get("c").await.unwrap().data.unwrap()["v"], "ours");
    ns.delete().await;
}

#[tokio::test]
async fn watch_mode_syncs_on_save() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "watch").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), cm("a", "1")).unwrap();
    let (store, settings) = local_source(&ns, "watch");
    let (cc, path) = (c.clone(), dir.path().to_path_buf());
    let task = tokio::spawn(async move {
        let _ = dromos::local::watch_dir(&cc, &path, &store, &settings, std::time::Duration::from_millis(100)).await;
    });
    let cms = ns.api::<ConfigMap>();
    let value = |n: &'static str| {
        let cms = cms.clone();
        async move { cms.get_opt(n).await.ok().flatten().and_then(|c| c.data).and_then(|d| d.get("v").cloned()) }
    };
    dromos_tests::wait_for("initial sync", std::time::Duration::from_secs(30), || async {
        (value("a").await.as_deref() == Some("1")).then_some(())
    })
    .await;
    std::fs::write(dir.path().join("a.yaml"), cm("a", "2")).unwrap();
    std::fs::write(dir.path().join("b.yaml"), cm("b", "1")).unwrap();
    dromos_tests::wait_for("sync on save", std::time::Duration::from_secs(30), || async {
        (value("a").await.as_deref() == Some("2") && value("b").await.as_deref() == Some("1")).then_some(())
    })
    .await;
    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    dromos_tests::wait_for("prune on delete", std::time::Duration::from_secs(30), || async {
        value("b").await.is_none().then_some(())
    })
    .await;
    task.abort();
    ns.delete().await;
}

#[tokio::test]
async fn a_failed_deletion_stays_in_the_inventory_and_is_retried() {
    use kube::api::{Api, DeleteParams, DynamicObject};
    let c = client().await;
    let ns = TestNamespace::new(&c, "faildel").await;
    // A ValidatingAdmissionPolicy refuses deleting the ConfigMap `pinned` in this namespace.
    let policy_name = format!("deny-delete-{}", ns.name);
    let gvk = kube::api::GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy");
    let (ar, _) = kube::discovery::pinned_kind(&c, &gvk).await.unwrap();
    let policies: Api<DynamicObject> = Api::all_with(c.clone(), &ar);
    let policy: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy_name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"], "resources": ["configmaps"]}]},
            "validations": [{"expression": format!("!(oldObject.metadata.name == 'pinned' && oldObject.metadata.namespace == '{}')", ns.name), "message": "pinned"}]
        }
    }))
    .unwrap();
    policies.patch(&policy_name, &PatchParams::apply("dromos-tests"), &Patch::Apply(&policy)).await.unwrap();
    let bgvk =
        kube::api::GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding");
    let (bar, _) = kube::discovery::pinned_kind(&c, &bgvk).await.unwrap();
    let bindings: Api<DynamicObject> = Api::all_with(c.clone(), &bar);
    let binding: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name},
        "spec": {"policyName": policy_name, "validationActions": ["Deny"]}
    }))
    .unwrap();
    bindings.patch(&policy_name, &PatchParams::apply("dromos-tests"), &Patch::Apply(&binding)).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    for n in ["pinned", "a", "b"] {
        std::fs::write(dir.path().join(format!("{n}.yaml")), cm(n, "1")).unwrap();
    }
    let (store, settings) = local_source(&ns, "faildel");
    let mut resolver = Resolver::default();
    sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    std::fs::remove_file(dir.path().join("pinned.yaml")).unwrap();
    // The policy takes a moment to be enforced; retry until the deletion is refused.
    let mut refused = None;
    for _ in 0..50 {
        let o = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
        if !o.failures.is_empty() {
            refused = Some(o);
            break;
        }
        // Not refused yet: the object was deleted; put it back and try again.
        std::fs::write(dir.path().join("pinned.yaml"), cm("pinned", "1")).unwrap();
        sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
        std::fs::remove_file(dir.path().join("pinned.yaml")).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let o = refused.expect("the admission policy refuses the deletion");
    assert!(o.failures[0].reason.starts_with("Delete"), "{:?}", o.failures);
    let inv: Vec<String> = store.load(&c).await.unwrap().iter().map(|r| r.name.clone()).collect();
    assert!(inv.contains(&"pinned".to_string()), "a failed deletion stays in the inventory: {inv:?}");
    // Once the policy is gone the next sync retries and deletes it.
    bindings.delete(&policy_name, &DeleteParams::default()).await.unwrap();
    policies.delete(&policy_name, &DeleteParams::default()).await.unwrap();
    let cms = ns.api::<ConfigMap>();
    dromos_tests::wait_for("the retried deletion", std::time::Duration::from_secs(30), || {
        let (c, store, cms) = (c.clone(), store.clone(), cms.clone());
        let settings = settings.clone();
        let path = dir.path().to_path_buf();
        async move {
            let mut r = Resolver::default();
            sync_dir(&c, &mut r, &path, &store, &settings).await.ok()?;
            cms.get_opt("pinned").await.ok()?.is_none().then_some(())
        }
    })
    .await;
    assert!(!store.load(&c).await.unwrap().iter().any(|r| r.name == "pinned"));
    ns.delete().await;
}

/// An object an earlier version applied as the one field manager `dromos`: the first sync of
/// this version hands its fields to the source's own manager, so a key then removed from the
/// file is removed from the object (a stale owner would keep it), without `force` and without
/// self-heal forcing.
#[tokio::test]
async fn fields_applied_by_the_legacy_manager_are_handed_over_and_can_be_removed() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "handover").await;
    let (store, settings) = local_source(&ns, "old");
    let settings = SyncSettings { force_owned: false, ..settings };
    let cms = ns.api::<ConfigMap>();
    // What the earlier version wrote: its labels, its manager, two keys.
    let old: ConfigMap = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"app.kubernetes.io/managed-by": "dromos", "dromos.io/source": "local.old"}},
        "data": {"keep": "1", "drop": "1"}
    }))
    .unwrap();
    cms.patch("cfg", &PatchParams::apply("dromos"), &Patch::Apply(&old)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cfg.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {keep: \"2\"}\n",
    )
    .unwrap();
    let mut resolver = Resolver::default();
    // The inventory the earlier version kept.
    let first = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert!(first.failures.is_empty(), "{}", dromos::local::describe(&first));
    let live = cms.get("cfg").await.unwrap();
    let data = live.data.clone().unwrap();
    assert_eq!(data.get("keep").map(String::as_str), Some("2"));
    assert_eq!(data.get("drop"), None, "the key the file no longer holds is gone: {data:?}");
    let managers: Vec<String> =
        live.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(!managers.contains(&"dromos".to_string()), "{managers:?}");
    assert!(managers.contains(&"dromos/local.old".to_string()), "{managers:?}");
    // Handed over once: the next sync writes nothing.
    let again = sync_dir(&c, &mut resolver, dir.path(), &store, &settings).await.unwrap();
    assert_eq!((again.applied, again.writes), (0, 0), "{}", dromos::local::describe(&again));
    ns.delete().await;
}
