//! `dromos package list|describe|render` over a package repository directory or the built-in
//! catalog, and the repositories `dromos render` expands Package objects from (I/O around
//! `dromos_core::package`).

use anyhow::{Context, Result, bail};
use dromos_core::SourceFile;
use dromos_core::package::{self, Repository, options};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

/// The built-in catalog (embedded at build time from `packages/`).
pub fn catalog() -> &'static Repository {
    static CAT: std::sync::OnceLock<Repository> = std::sync::OnceLock::new();
    CAT.get_or_init(|| {
        let files: Vec<SourceFile> =
            CATALOG.iter().map(|(p, b)| SourceFile { path: (*p).to_string(), bytes: b.to_vec() }).collect();
        let repo = package::read_repository(&files);
        // A catalog that does not read is a build defect; the catalog test checks it.
        for p in &repo.problems {
            tracing::error!("built-in catalog: {p}");
        }
        repo
    })
}

/// Reads the repository at `root`, or the built-in catalog when `root` is `None`.
pub fn open(root: Option<&Path>) -> Result<Repository> {
    match root {
        Some(r) => read_repo(r),
        None => Ok(catalog().clone()),
    }
}

/// Repositories for expanding the Package objects of a manifest tree at `tree_root`: the
/// built-in catalog, and every `repository.path` (without `gitSource`) as a directory of the tree.
pub fn tree_repositories(tree_root: &Path, manifests: &[dromos_core::Manifest]) -> Result<package::Repositories> {
    let mut repos = package::Repositories { builtin: std::sync::Arc::new(catalog().clone()), ..Default::default() };
    let base = if tree_root.is_file() { tree_root.parent().unwrap_or(Path::new(".")) } else { tree_root };
    for m in manifests {
        let dromos_core::Typed::Package(p) = &m.typed else { continue };
        let r = package::repo_ref(&p.spec);
        if let package::RepoRef::Path { git_source: None, path } = &r {
            if repos.others.contains_key(&r) {
                continue;
            }
            let dir = base.join(path);
            if dir.is_dir() {
                repos.others.insert(r.clone(), std::sync::Arc::new(read_repo(&dir)?));
            }
        }
    }
    Ok(repos)
}

/// Largest file read from a repository.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// Files a package repository consists of.
pub fn is_package_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    matches!(
        name,
        "package.json"
            | "config.json"
            | "resource.json"
            | "marathon.json.mustache"
            | "package.yaml"
            | "options.schema.json"
            | "service.yaml.mustache"
    ) || (rel.contains("/templates/") && name.ends_with(".mustache"))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            if !is_package_file(&rel) {
                continue;
            }
            if e.metadata()?.len() > MAX_FILE {
                bail!("{rel}: larger than {MAX_FILE} bytes");
            }
            out.push(SourceFile { path: rel, bytes: std::fs::read(&p)? });
        }
    }
    Ok(())
}

/// `dromos package lint`: every finding of the packages of `root` (the built-in catalog when
/// none), `file: message`; exit 1 when one is an error (a package directory that cannot be
/// read is one).
pub fn lint(root: Option<&Path>, name: Option<&str>, version: Option<&str>, out: &mut dyn Write) -> Result<ExitCode> {
    let repo = open(root)?;
    let mut errors = repo.problems.len();
    for p in &repo.problems {
        writeln!(out, "error: {p}")?;
    }
    let mut linted = 0;
    for pkg in &repo.versions {
        if name.is_some_and(|n| n != pkg.meta.name) || version.is_some_and(|v| v != pkg.meta.version) {
            continue;
        }
        linted += 1;
        let test = match root {
            Some(r) => std::fs::read_to_string(r.join(&pkg.dir).join(dromos_core::service::test_spec::TEST_FILE)).ok(),
            None => None,
        };
        for f in package::lint::lint(pkg, test.as_deref()) {
            errors += usize::from(f.error);
            writeln!(out, "{}: {}: {}", if f.error { "error" } else { "warning" }, f.file, f.message)?;
        }
    }
    if linted == 0 {
        anyhow::bail!(
            "no package {}{} here",
            name.unwrap_or("at all"),
            version.map(|v| format!(" {v}")).unwrap_or_default()
        );
    }
    writeln!(out, "{linted} package version(s), {errors} error(s)")?;
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The files of package directory `dir` of repository `root`, as `pkgs/<dir>/...` paths and
/// bytes (what `dromos package test` commits for its GitSource).
pub fn package_files(root: &Path, dir: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    walk(root, &root.join(dir), &mut files)?;
    Ok(files.into_iter().map(|f| (format!("pkgs/{}", f.path), f.bytes)).collect())
}

/// Reads a repository directory; problems of single packages go to stderr.
pub fn read_repo(root: &Path) -> Result<Repository> {
    let mut files = Vec::new();
    walk(root, root, &mut files).with_context(|| format!("reading package repository {}", root.display()))?;
    let repo = package::read_repository(&files);
    for p in &repo.problems {
        eprintln!("warning: skipped {p}");
    }
    Ok(repo)
}

/// How `dromos package list | describe` print: text (`wide`: more columns), or structured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text; `true` for the wide form.
    Text(bool),
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

fn print_structured(format: Format, value: &Value, out: &mut dyn Write) -> Result<bool> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value)? + "\n",
        Format::Yaml => serde_saphyr::to_string(value).expect("JSON values serialise to YAML"),
        Format::Text(_) => return Ok(false),
    };
    out.write_all(text.as_bytes())?;
    Ok(true)
}

fn layout_name(l: &package::Layout) -> &'static str {
    match l {
        package::Layout::Universe => "universe",
        package::Layout::Dromos => "dromos",
    }
}

/// `dromos package list`.
pub fn list(root: Option<&Path>, format: Format, out: &mut dyn Write) -> Result<ExitCode> {
    let repo = open(root)?;
    let mut entries = vec![];
    for name in repo.names() {
        let vs = repo.versions_of(name);
        let newest = vs[vs.len() - 1];
        let versions: Vec<&str> = vs.iter().map(|v| v.meta.version.as_str()).collect();
        let m = &newest.meta;
        entries.push(serde_json::json!({
            "name": name, "versions": versions, "layout": layout_name(&newest.layout),
            "description": m.description, "maintainer": m.maintainer, "tags": m.tags, "directory": newest.dir,
        }));
    }
    if print_structured(format, &Value::Array(entries.clone()), out)? {
        return Ok(ExitCode::SUCCESS);
    }
    let wide = format == Format::Text(true);
    let mut header = vec!["NAME", "VERSIONS", "LAYOUT"];
    if wide {
        header.extend(["MAINTAINER", "TAGS", "DIRECTORY"]);
    }
    header.push("DESCRIPTION");
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let join = |v: &Value| v.as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(",");
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mut row = vec![s(&e["name"]), join(&e["versions"]), s(&e["layout"])];
            if wide {
                row.extend([s(&e["maintainer"]), join(&e["tags"]), s(&e["directory"])]);
            }
            row.push(s(&e["description"]));
            row
        })
        .collect();
    out.write_all(crate::cli::output::table(&header, &rows).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `dromos package describe`: the metadata, or with `config` the options; the wide text has
/// both, and says which options are required.
pub fn describe(
    root: Option<&Path>,
    name: &str,
    version: Option<&str>,
    config: bool,
    format: Format,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let repo = open(root)?;
    let pkg = repo.find(name, version).map_err(anyhow::Error::msg)?;
    let m = &pkg.meta;
    let docs = options::describe(&pkg.schema);
    let all: Vec<&str> = repo.versions_of(name).iter().map(|v| v.meta.version.as_str()).collect();
    let option_values: Vec<Value> = docs
        .iter()
        .map(|d| {
            serde_json::json!({"path": d.path, "type": d.kind, "default": d.default, "required": d.required,
                "description": d.description})
        })
        .collect();
    let value = if config {
        Value::Array(option_values)
    } else {
        serde_json::json!({
            "name": m.name, "version": m.version, "description": m.description, "maintainer": m.maintainer,
            "tags": m.tags, "upgradesFrom": m.upgrades_from, "downgradesTo": m.downgrades_to,
            "directory": pkg.dir, "versions": all, "layout": layout_name(&pkg.layout),
            "templates": pkg.templates.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        })
    };
    if print_structured(format, &value, out)? {
        return Ok(ExitCode::SUCCESS);
    }
    let wide = format == Format::Text(true);
    if !config || wide {
        writeln!(out, "name:         {}", m.name)?;
        writeln!(out, "version:      {}", m.version)?;
        writeln!(out, "description:  {}", m.description)?;
        writeln!(out, "maintainer:   {}", m.maintainer)?;
        writeln!(out, "tags:         {}", m.tags.join(", "))?;
        writeln!(out, "upgradesFrom: {}", m.upgrades_from.join(", "))?;
        writeln!(out, "downgradesTo: {}", m.downgrades_to.join(", "))?;
        writeln!(out, "directory:    {}", pkg.dir)?;
        writeln!(out, "versions:     {}", all.join(", "))?;
        writeln!(out, "templates:    {}", pkg.templates.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(", "))?;
        if !wide {
            return Ok(ExitCode::SUCCESS);
        }
        writeln!(out)?;
    }
    if docs.is_empty() {
        writeln!(out, "{} {} has no options", m.name, m.version)?;
        return Ok(ExitCode::SUCCESS);
    }
    if wide {
        let rows: Vec<Vec<String>> = docs
            .iter()
            .map(|d| {
                vec![
                    d.path.clone(),
                    d.kind.clone(),
                    default_cell(d),
                    if d.required { "yes".into() } else { String::new() },
                    d.description.clone(),
                ]
            })
            .collect();
        let header = ["OPTION", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION"];
        out.write_all(crate::cli::output::table(&header, &rows).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{:<40} {:<10} {:<24} DESCRIPTION", "OPTION", "TYPE", "DEFAULT")?;
    for d in docs {
        writeln!(out, "{:<40} {:<10} {:<24} {}", d.path, d.kind, default_cell(&d), d.description)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The DEFAULT cell of an option.
fn default_cell(d: &options::OptionDoc) -> String {
    match (&d.default, d.kind.as_str()) {
        // An object's default is the sum of its properties' lines below it.
        (Some(_), "object") => String::new(),
        (Some(v), _) => v.to_string(),
        (None, _) if d.required => "(required)".into(),
        (None, _) => String::new(),
    }
}

/// `dromos package render`: the objects as a YAML stream, or exit 1 with the option errors.
pub fn render(
    root: Option<&Path>,
    name: &str,
    version: Option<&str>,
    options_file: Option<&Path>,
    instance: package::Instance,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let repo = open(root)?;
    let pkg = repo.find(name, version).map_err(anyhow::Error::msg)?;
    let user: Value = match options_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_saphyr::from_str(&text).with_context(|| format!("{}: not JSON or YAML", p.display()))?
        }
        None => Value::Null,
    };
    match package::render(pkg, &user, &instance) {
        Ok(r) => {
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            let objects = package::complete_objects(pkg, r, &user, &instance);
            out.write_all(dromos_core::render::to_yaml_stream(&objects).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {} {}: {e}", pkg.meta.name, pkg.meta.version);
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_catalog(name: &str, options: Value) -> Vec<Value> {
        let pkg = catalog().find(name, None).unwrap();
        let inst = package::Instance { namespace: "data", name, source: "builtin" };
        let r = package::render(pkg, &options, &inst).unwrap_or_else(|e| panic!("{name}: {e}"));
        package::complete_objects(pkg, r, &options, &inst)
    }

    fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
        objs.iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {objs:#?}"))
    }

    #[test]
    fn the_catalog_reads_and_every_package_renders_with_its_defaults() {
        let cat = catalog();
        assert!(cat.problems.is_empty(), "{:?}", cat.problems);
        assert_eq!(cat.names(), vec!["cassandra", "hdfs", "kafka", "spark"]);
        for name in cat.names() {
            let objs = render_catalog(name, Value::Null);
            assert!(!objs.is_empty(), "{name}");
            for o in &objs {
                assert!(o["apiVersion"].is_string() && o["kind"].is_string(), "{name}: {o}");
                assert!(o["metadata"]["name"].as_str().is_some_and(|n| !n.is_empty()), "{name}: {o}");
                assert_eq!(o["metadata"]["namespace"], "data", "{name}: every object is namespaced");
                assert!(!o.to_string().contains("{{"), "{name}: unrendered tag in {o}");
            }
            // Every option has a description and every leaf a default: describe --config is complete.
            for d in options::describe(&cat.find(name, None).unwrap().schema) {
                assert!(!d.description.is_empty(), "{name}: {} has no description", d.path);
            }
        }
    }

    #[test]
    fn kafka_is_a_service_of_controllers_deployed_together_then_brokers_one_at_a_time() {
        let pkg = catalog().find("kafka", None).unwrap();
        let inst = package::Instance { namespace: "data", name: "kafka", source: "builtin" };
        let spec = package::render(pkg, &Value::Null, &inst).unwrap().service.expect("a service specification");
        let deploy = &spec.plans["deploy"];
        let shape: Vec<(&str, &str, &str)> =
            deploy.phases.iter().map(|p| (p.name.as_str(), p.pod.as_str(), p.strategy.as_str())).collect();
        assert_eq!(shape, [("controllers", "controller", "parallel"), ("brokers", "broker", "serial")]);
        let update: Vec<&str> = spec.plans["update"].phases.iter().map(|p| p.strategy.as_str()).collect();
        assert_eq!(update, ["serial", "serial"], "an option change restarts one pod at a time");
        assert_eq!((spec.pods["controller"].count, spec.pods["broker"].count), (3, 3));

        let objs = render_catalog("kafka", Value::Null);
        let sts = find(&objs, "StatefulSet", "kafka-broker");
        assert_eq!(sts["spec"]["replicas"], 3, "the complete render: every instance");
        assert_eq!(sts["spec"]["updateStrategy"]["type"], "OnDelete", "only the plans restart pods");
        let pod = &sts["spec"]["template"]["spec"];
        let anti = &pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
        assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
        let env = pod["containers"][0]["env"].as_array().unwrap();
        let var = |k: &str| env.iter().find(|e| e["name"] == k).map(|e| e["value"].clone());
        assert_eq!(var("KAFKA_PROCESS_ROLES"), Some(json!("broker")));
        assert_eq!(var("KAFKA_MIN_INSYNC_REPLICAS"), Some(json!("2")));
        assert_eq!(pod["containers"][0]["readinessProbe"]["tcpSocket"]["port"], "broker");
        assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "20Gi");
        let ctl = find(&objs, "StatefulSet", "kafka-controller");
        let env = ctl["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap();
        assert!(env.iter().any(|e| e["name"] == "KAFKA_PROCESS_ROLES" && e["value"] == "controller"));
        assert_eq!(find(&objs, "Service", "kafka-broker")["spec"]["clusterIP"], "None");
        assert_eq!(find(&objs, "Service", "kafka")["spec"]["selector"]["dromos.io/service-pod"], "broker");
        assert_eq!(find(&objs, "PodDisruptionBudget", "kafka-broker")["spec"]["maxUnavailable"], 1);

        let small = render_catalog(
            "kafka",
            json!({"brokers": {"count": 1, "memory": "1Gi"}, "controllers": {"count": 1}, "storage": {"persistent": false},
                   "placement": {"antiAffinity": false, "nodeSelector": {"pool": "kafka"}},
                   "settings": {"minInsyncReplicas": 1}}),
        );
        let sts = find(&small, "StatefulSet", "kafka-broker");
        assert_eq!(sts["spec"]["volumeClaimTemplates"], json!([]));
        assert!(sts["spec"]["template"]["spec"].get("affinity").is_none());
        assert_eq!(sts["spec"]["template"]["spec"]["nodeSelector"], json!({"pool": "kafka"}));
        assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"], "1024Mi");
    }

    #[test]
    fn cassandra_is_a_pod_type_per_rack_pinned_to_its_zone_seeds_first_and_decommissioned_on_scale_down() {
        let options = json!({"racks": [{"name": "r1", "zone": "z1"}, {"name": "r2", "zone": "z2"}, {"name": "r3"}],
                             "nodes": {"perRack": 2}});
        let pkg = catalog().find("cassandra", None).unwrap();
        let inst = package::Instance { namespace: "data", name: "cassandra", source: "builtin" };
        let spec = package::render(pkg, &options, &inst).unwrap().service.expect("a service specification");
        let phases: Vec<(&str, &[u32])> =
            spec.plans["deploy"].phases.iter().map(|p| (p.name.as_str(), p.instances.as_slice())).collect();
        assert_eq!(
            phases,
            [("seed-r1", &[0][..]), ("seed-r2", &[0]), ("seed-r3", &[0]), ("r1", &[]), ("r2", &[]), ("r3", &[])],
            "the seeds of every rack first, then each rack's other nodes"
        );
        assert!(spec.plans["deploy"].phases.iter().all(|p| p.strategy.is_serial()), "one node joins at a time");
        assert_eq!(spec.pods["r1"].tasks["server"].decommission.as_deref(), Some("nodetool decommission"));

        let objs = render_catalog("cassandra", options);
        let sts: Vec<&Value> = objs.iter().filter(|o| o["kind"] == "StatefulSet").collect();
        assert_eq!(sts.len(), 3);
        let r1 = find(&objs, "StatefulSet", "cassandra-r1");
        assert_eq!(r1["spec"]["replicas"], 2);
        let term = &r1["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchExpressions"][0];
        assert_eq!(term, &json!({"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z1"]}));
        let r3 = find(&objs, "StatefulSet", "cassandra-r3");
        assert!(r3["spec"]["template"]["spec"]["affinity"].get("nodeAffinity").is_none(), "a rack without zone");
        let env = r1["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap();
        let seeds = env.iter().find(|e| e["name"] == "SEEDS").unwrap()["value"].as_str().unwrap();
        assert_eq!(
            seeds,
            "cassandra-r1-0.cassandra-r1.data.svc,cassandra-r2-0.cassandra-r2.data.svc,cassandra-r3-0.cassandra-r3.data.svc,"
        );
        assert!(env.iter().any(|e| e["name"] == "POD_TYPE" && e["value"] == "r1"), "the rack, CASSANDRA_RACK");
        let ephemeral = render_catalog("cassandra", json!({"storage": {"persistent": false, "size": "1Gi"}}));
        let rack = find(&ephemeral, "StatefulSet", "cassandra-rack1");
        assert_eq!(rack["spec"]["volumeClaimTemplates"], json!([]));
        assert_eq!(
            rack["spec"]["template"]["spec"]["volumes"][0],
            json!({"name": "data", "emptyDir": {"sizeLimit": "1Gi"}})
        );
    }

    #[test]
    fn hdfs_deploys_journal_nodes_then_name_nodes_with_their_format_tasks_then_data_nodes() {
        let plain = render_catalog("hdfs", Value::Null);
        assert_eq!(find(&plain, "StatefulSet", "hdfs-name")["spec"]["replicas"], 1);
        assert!(!plain.iter().any(|o| o["metadata"]["name"] == "hdfs-journal"));
        let options = json!({"ha": {"enabled": true}, "dataNodes": {"count": 5}});
        let ha = render_catalog("hdfs", options.clone());
        assert_eq!(find(&ha, "StatefulSet", "hdfs-name")["spec"]["replicas"], 2);
        assert_eq!(find(&ha, "StatefulSet", "hdfs-journal")["spec"]["replicas"], 3);
        assert_eq!(find(&ha, "StatefulSet", "hdfs-data")["spec"]["replicas"], 5);
        let name = &find(&ha, "StatefulSet", "hdfs-name")["spec"]["template"]["spec"];
        assert_eq!(name["initContainers"][0]["name"], "format", "the format task runs before the name node, once");
        let config = name["volumes"].as_array().unwrap().iter().find(|v| v.get("configMap").is_some()).unwrap();
        let cm = find(&ha, "ConfigMap", config["configMap"]["name"].as_str().unwrap());
        let site = cm["data"]["node.hdfs-site"].as_str().unwrap();
        assert!(site.contains("qjournal://hdfs-journal-0.hdfs-journal.data.svc:8485;"), "{site}");
        assert!(site.contains("<name>dfs.ha.namenodes.hdfs</name><value>nn0,nn1</value>"), "{site}");
        let pkg = catalog().find("hdfs", None).unwrap();
        let inst = package::Instance { namespace: "data", name: "hdfs", source: "builtin" };
        let spec = package::render(pkg, &options, &inst).unwrap().service.unwrap();
        let phases: Vec<(&str, &str)> =
            spec.plans["deploy"].phases.iter().map(|p| (p.name.as_str(), p.strategy.as_str())).collect();
        assert_eq!(phases, [("journal", "parallel"), ("name", "serial"), ("data", "serial")]);
    }

    #[test]
    fn spark_renders_driver_rbac_and_the_history_server() {
        let objs = render_catalog("spark", Value::Null);
        find(&objs, "ServiceAccount", "spark-driver");
        let role = find(&objs, "Role", "spark-driver");
        assert!(role["rules"][0]["resources"].as_array().unwrap().contains(&json!("pods")));
        assert_eq!(find(&objs, "RoleBinding", "spark-driver")["subjects"][0]["namespace"], "data");
        let d = find(&objs, "Deployment", "spark-history");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["command"],
            json!(["/opt/spark/bin/spark-class", "org.apache.spark.deploy.history.HistoryServer"])
        );
        find(&objs, "PersistentVolumeClaim", "spark-events");
        let off = render_catalog("spark", json!({"history": {"enabled": false}, "driver": {"serviceAccount": "jobs"}}));
        assert!(!off.iter().any(|o| o["kind"] == "Deployment"));
        find(&off, "ServiceAccount", "jobs");
    }
}
