//! Loading small trees: ids, schema errors, duplicates.

use super::*;

fn load(files: &[(&str, &str)]) -> Loaded {
    let files: Vec<SourceFile> =
        files.iter().map(|(p, t)| SourceFile { path: p.to_string(), bytes: t.as_bytes().to_vec() }).collect();
    load_files(&files, &LoadOptions::default())
}

#[test]
fn an_app_with_an_id_gets_namespace_and_name() {
    let l = load(&[(
        "a.yaml",
        "apiVersion: dromos.io/v1alpha1\nkind: App\nspec:\n  id: /shop/web/frontend\n  cmd: sleep 1\n",
    )]);
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let m = &l.manifests[0];
    assert_eq!((m.namespace.as_deref(), m.name.as_str()), (Some("shop"), "web-frontend"));
    assert!(matches!(m.typed, Typed::App(_)));
    assert_eq!(m.value["metadata"]["namespace"], "shop");
}

#[test]
fn unknown_fields_name_the_closest_known_one() {
    let l = load(&[(
        "apps/web.yaml",
        "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  cmd: x\n  instancess: 3\n  healthChecks:\n    - protocoll: HTTP\n",
    )]);
    let d: Vec<_> = l.diagnostics.iter().map(|d| (d.line, d.column, d.field.as_str(), d.hint.clone())).collect();
    assert_eq!(
        d,
        vec![
            (7, 3, "spec.instancess", Some("did you mean `instances`?".into())),
            (9, 7, "spec.healthChecks[0].protocoll", Some("did you mean `protocol`?".into())),
        ]
    );
    // The typed form is still available so semantic rules run too.
    assert!(matches!(l.manifests[0].typed, Typed::App(_)));
}

#[test]
fn other_kinds_pass_through() {
    let l = load(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata: {a: b}\nwhatever: 1\n",
    )]);
    assert!(l.diagnostics.is_empty());
    assert!(matches!(l.manifests[0].typed, Typed::Other));
}

#[test]
fn duplicates_report_both_places() {
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n";
    let l = load(&[("a.yaml", doc), ("b.yaml", &format!("---\n{doc}"))]);
    assert_eq!(l.diagnostics.len(), 1);
    let d = &l.diagnostics[0];
    assert_eq!((d.file.as_str(), d.line), ("b.yaml", 2));
    assert_eq!(d.hint.as_deref(), Some("first defined at a.yaml:1"));
}

#[test]
fn id_collisions_are_duplicates() {
    let a = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web-frontend, cmd: x}\n";
    let b = "apiVersion: dromos.io/v1alpha1\nkind: App\nspec: {id: /shop/web/frontend, cmd: x}\n";
    let l = load(&[("a.yaml", a), ("b.yaml", b)]);
    assert_eq!(l.diagnostics.len(), 1, "{:?}", l.diagnostics);
    assert!(l.diagnostics[0].message.contains("/shop/web/frontend"));
    assert!(l.diagnostics[0].hint.as_deref().unwrap().contains("/shop/web-frontend"));
}

#[test]
fn file_problems_are_reported_per_file() {
    let files = vec![
        SourceFile { path: "bad.yaml".into(), bytes: b"a: 1\n\xff\xfe\n".to_vec() },
        SourceFile { path: "big.yaml".into(), bytes: vec![b'#'; 100] },
        SourceFile { path: "syntax.yaml".into(), bytes: b"a: [1,\n".to_vec() },
    ];
    let opts = LoadOptions { max_file_bytes: 50, ..Default::default() };
    let l = load_files(&files, &opts);
    let codes: Vec<_> = l.diagnostics.iter().map(|d| (d.file.as_str(), d.code, d.line)).collect();
    assert_eq!(codes[0], ("bad.yaml", "invalid-utf8", 2));
    assert_eq!(codes[1], ("big.yaml", "file-too-large", 0));
    assert_eq!(codes[2].1, "yaml-syntax");
}

#[test]
fn unknown_dromos_kinds_get_a_hint() {
    let l = load(&[("a.yaml", "apiVersion: dromos.io/v1alpha1\nkind: Ap\nmetadata: {name: a}\n")]);
    assert_eq!(l.diagnostics[0].hint.as_deref(), Some("did you mean `App`?"));
}

#[test]
fn id_must_agree_with_metadata() {
    let l = load(&[(
        "a.yaml",
        "apiVersion: dromos.io/v1alpha1\nkind: App\nmetadata: {name: web, namespace: prod}\nspec: {id: /shop/web, cmd: x}\n",
    )]);
    assert_eq!(l.diagnostics.len(), 1);
    assert_eq!(l.diagnostics[0].code, "id-mismatch");
    assert_eq!(l.diagnostics[0].line, 4);
}

#[test]
fn a_revision_holds_at_most_its_total_of_yaml_nodes_whatever_its_files() {
    // Four files of about 210 nodes each against a total of 500: the files that would pass
    // the total are refused, naming the revision budget; the others load.
    let body: String = (0..100).map(|i| format!("  k{i}: v\n")).collect();
    let doc = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: NAME}}\ndata:\n{body}");
    let files: Vec<SourceFile> = (0..4)
        .map(|i| SourceFile { path: format!("f{i}.yaml"), bytes: doc.replace("NAME", &format!("c{i}")).into_bytes() })
        .collect();
    let opts = LoadOptions { max_total_nodes: 500, threads: 1, ..Default::default() };
    let l = load_files(&files, &opts);
    let refused: Vec<&str> =
        l.diagnostics.iter().filter(|d| d.code == "yaml-budget").map(|d| d.file.as_str()).collect();
    assert_eq!(refused, ["f2.yaml", "f3.yaml"], "{:#?}", l.diagnostics);
    assert!(l.diagnostics.iter().all(|d| d.hint.as_deref().unwrap_or("").contains("revision as a whole")));
    assert_eq!(l.manifests.len(), 2);
    // In parallel, files parsed at the same moment may each take what was left: the total is
    // passed by at most one file's share per thread, and every file either loads or says why.
    let l = load_files(&files, &LoadOptions { threads: 4, ..opts });
    assert_eq!(l.manifests.len() + l.diagnostics.len(), 4);
    // The default total takes these easily.
    assert!(load_files(&files, &LoadOptions::default()).diagnostics.is_empty());
}
