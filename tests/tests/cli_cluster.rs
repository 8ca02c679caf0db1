//! Cluster selection of the `dromos` binary, as kubectl does it: `--kubeconfig`, `--context`,
//! `-n` defaulting to the context's namespace, `-A`; writers name the context they write to.

use dromos_tests::{TestNamespace, app_object, client, install_crds};
use kube::api::PostParams;

/// Runs the binary with `args` and no `KUBECONFIG`; (exit code, stdout + stderr).
fn dromos(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(dromos_tests::dromos_bin())
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", "/nonexistent")
        .output()
        .expect("run dromos");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn kubeconfig_context_and_namespace_are_chosen_as_kubectl_does() {
    let c = client().await;
    install_crds(&c).await;
    let one = TestNamespace::new(&c, "ctx-one").await;
    let two = TestNamespace::new(&c, "ctx-two").await;
    let spec = serde_json::json!({"cmd": "sleep 3600", "instances": 1, "cpus": 0.1, "mem": 32});
    one.api::<dromos_crds::App>().create(&PostParams::default(), &app_object("alpha", spec.clone())).await.unwrap();
    two.api::<dromos_crds::App>().create(&PostParams::default(), &app_object("beta", spec)).await.unwrap();

    // A kubeconfig with the test cluster as context `here` (namespace `one`) and a context
    // `nowhere` whose server does not exist; its current context is `nowhere`.
    let path = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let mut kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    let real = kc.contexts[0].context.clone().unwrap();
    let mut cluster = kc.clusters[0].clone();
    cluster.name = "nowhere".into();
    cluster.cluster.as_mut().unwrap().server = Some("https://127.0.0.1:1".into());
    kc.clusters.push(cluster);
    let mut here = kc.contexts[0].clone();
    here.name = "here".into();
    here.context = Some(kube::config::Context { namespace: Some(one.name.clone()), ..real.clone() });
    let mut nowhere = kc.contexts[0].clone();
    nowhere.name = "nowhere".into();
    nowhere.context = Some(kube::config::Context { cluster: "nowhere".into(), ..real });
    kc.contexts = vec![here, nowhere];
    kc.current_context = Some("nowhere".into());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kubeconfig");
    std::fs::write(&file, serde_json::to_string(&kc).unwrap()).unwrap();
    let f = file.to_str().unwrap();

    // The context's namespace by default; -n another; -A all.
    let (code, out) = dromos(&["--kubeconfig", f, "--context", "here", "status"]);
    assert_eq!(code, 3, "one App, not ready: {out}");
    assert!(out.contains("alpha") && !out.contains("beta"), "{out}");
    let (_, out) = dromos(&["status", "-n", &two.name, "--kubeconfig", f, "--context", "here"]);
    assert!(out.contains("beta") && !out.contains("alpha"), "{out}");
    let (_, out) = dromos(&["--kubeconfig", f, "--context", "here", "status", "-A"]);
    assert!(out.contains("alpha") && out.contains("beta"), "{out}");

    // The current context is used when none is named: here, a server that does not exist.
    let (code, out) = dromos(&["--kubeconfig", f, "status"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("127.0.0.1:1"), "the error names where it tried: {out}");

    // Writers say where they write.
    let job: dromos_crds::Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "dromos.io/v1alpha1", "kind": "Job", "metadata": {"name": "beat"},
        "spec": {"run": {"cmd": "true"}}
    }))
    .unwrap();
    one.api::<dromos_crds::Job>().create(&PostParams::default(), &job).await.unwrap();
    let (code, out) = dromos(&["--kubeconfig", f, "--context", "here", "job", "run", "beat"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("job {}/beat on context here (", one.name)), "{out}");

    // A context that does not exist is an error naming it.
    let (code, out) = dromos(&["--kubeconfig", f, "--context", "elsewhere", "status"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("elsewhere"), "{out}");
    one.delete().await;
    two.delete().await;
}
