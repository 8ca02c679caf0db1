//! Verifying an import (pure): the imported objects are loaded, validated and rendered exactly
//! as `dromos validate` and `dromos render` would read the written files.
//!
//! It lives beside, not inside, [`crate::import`]: it needs `render`, which needs `package`, which
//! needs `import`; kept here, the dependencies run one way only.

use crate::diag::Diagnostic;
use crate::import::{ImportOptions, Imported};
use crate::load::{LoadOptions, SourceFile};

/// Loads and validates imported objects exactly as `dromos validate` would read the written
/// files, and renders them: returns the validation diagnostics (errors mean the import is
/// wrong or the input was invalid for its own system too) and the render warnings
/// (approximations Kubernetes makes, which `dromos render` also prints).
pub fn verify_import(objects: &[Imported], opts: &ImportOptions) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let files: Vec<SourceFile> =
        objects.iter().map(|o| SourceFile { path: o.path(), bytes: o.to_yaml().into_bytes() }).collect();
    let load = LoadOptions { default_namespace: opts.default_namespace.clone(), ..Default::default() };
    let tree = crate::check_tree(&files, &load);
    let rendered = if tree.is_valid() {
        crate::render::render_manifests(&tree.manifests, &crate::RenderOptions::default()).warnings
    } else {
        Vec::new()
    };
    (tree.diagnostics, rendered)
}

#[cfg(test)]
mod tests {
    //! Imports whose output must also pass `dromos validate`.

    use super::*;
    use crate::import::tests::{paths, run, spec};
    use crate::import::{Effect, Flavor};
    use serde_json::json;

    #[test]
    fn group_ids_and_dependencies_resolve_against_their_group() {
        let root = json!({"id": "/", "groups": [
            {"id": "/data", "apps": [{"id": "db", "cmd": "db"}]},
            {"id": "shop", "dependencies": ["../data"], "apps": [
                {"id": "api", "cmd": "api"},
                {"id": "web", "cmd": "web", "dependencies": ["api", "/shop/api"]}
            ], "groups": [{"id": "jobs", "dependencies": ["../api"], "pods": [
                {"id": "mail", "containers": [{"name": "m", "exec": {"command": {"shell": "mail"}}}]}
            ]}]}
        ]});
        let i = run(Flavor::Marathon, &[("g.json", root)]);
        assert_eq!(spec(&i, "shop/web.app.yaml")["dependencies"], json!(["/shop/api", "/data/db"]));
        assert_eq!(spec(&i, "shop/api.app.yaml")["dependencies"], json!(["/data/db"]));
        // Inherited from /shop (outer groups first) and /shop/jobs.
        assert_eq!(spec(&i, "shop/jobs-mail.app.yaml")["dependencies"], json!(["/data/db", "/shop/api"]));
        assert_eq!(spec(&i, "shop/jobs-mail.app.yaml")["id"], "/shop/jobs/mail");
        assert!(i.report.entries.is_empty(), "{:?}", i.report.entries);
        let (diags, _) = verify_import(&i.objects, &ImportOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn deprecated_marathon_fields_take_their_modern_form() {
        let apps = json!({"apps": [
            {"id": "/a/host", "cmd": "x", "ports": [8080, 0], "uris": ["https://e.com/a.tgz"]},
            {"id": "/a/bridge", "container": {"docker": {"image": "i", "network": "BRIDGE",
                "portMappings": [{"containerPort": 80, "hostPort": 0}]}}, "ports": [10001]},
            {"id": "/a/ip", "container": {"docker": {"image": "i", "network": "USER"}},
                "ipAddress": {"networkName": "overlay", "discovery": {"ports": [{"number": 9000, "name": "rpc", "protocol": "tcp"}]}}}
        ]});
        let i = run(Flavor::Marathon, &[("a.json", apps)]);
        let host = spec(&i, "a/host.app.yaml");
        assert_eq!(host["portDefinitions"], json!([{"port": 8080}, {"port": 0}]));
        assert_eq!(host["fetch"], json!([{"uri": "https://e.com/a.tgz"}]));
        assert!(host.get("ports").is_none() && host.get("uris").is_none());
        let bridge = spec(&i, "a/bridge.app.yaml");
        assert_eq!(bridge["networks"], json!([{"mode": "container/bridge"}]));
        assert_eq!(bridge["container"]["portMappings"], json!([{"containerPort": 80, "hostPort": 0}]));
        assert!(bridge.get("portDefinitions").is_none(), "service ports of bridge apps are not host ports");
        let ip = spec(&i, "a/ip.app.yaml");
        assert_eq!(ip["networks"], json!([{"mode": "container", "name": "overlay"}]));
        assert_eq!(ip["container"]["portMappings"], json!([{"containerPort": 9000, "protocol": "tcp", "name": "rpc"}]));
        assert!(i.report.entries.is_empty(), "{:?}", i.report.entries);
        let (diags, _) = verify_import(&i.objects, &ImportOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn chronos_names_parents_commands_and_defaults() {
        let jobs = json!([
            {"name": "Nightly ETL", "command": "etl", "schedule": "R5//P1D", "cpus": 0.5, "mem": 64, "disk": 10},
            {"name": "report", "command": "/bin/report", "arguments": ["it's", "--all"], "shell": false, "parents": ["Nightly ETL"], "cpus": 1, "mem": 32, "disk": 1},
            {"name": "bad", "command": "x", "schedule": "every day", "cpus": 1, "mem": 32, "disk": 1}
        ]);
        let i = run(Flavor::Chronos, &[("c.json", jobs)]);
        assert_eq!(spec(&i, "default/nightly-etl.job.yaml")["schedule"], "R5//P1D");
        let r = spec(&i, "default/report.job.yaml");
        assert_eq!(r["parents"], json!(["nightly-etl"]));
        assert_eq!(r["run"]["cmd"], r#"/bin/report 'it'\''s' --all"#);
        assert!(spec(&i, "default/bad.job.yaml").get("schedule").is_none());
        assert_eq!(paths(&i.report), vec![("$[1].shell", Effect::Approximated), ("$[2].schedule", Effect::Dropped)]);
        assert_eq!(i.objects[1].comments[1], "named `nightly-etl`: Kubernetes names are lower-case DNS labels");
        let (diags, _) = verify_import(&i.objects, &ImportOptions::default());
        assert!(diags.is_empty(), "{diags:?}");
    }
}
