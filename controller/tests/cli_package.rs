//! Tests of `dromos package` on the built-in catalog, against golden files.
//!
//! Golden files are regenerated explicitly with `DROMOS_UPDATE_GOLDEN=1 cargo test -p dromos`.

mod common;

use common::{dromos, golden};

#[test]
fn package_commands_work_on_the_built_in_catalog_and_match_goldens() {
    let (code, out, err) = dromos(&["package", "list"]);
    assert_eq!(code, 0, "{err}");
    for name in ["cassandra", "hdfs", "kafka", "spark"] {
        assert!(out.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{out}");
    }
    let (code, out, err) = dromos(&["package", "describe", "kafka", "--config"]);
    assert_eq!(code, 0, "{err}");
    golden("package/kafka.config.txt", &out);
    let dir = tempfile::tempdir().unwrap();
    let opts = dir.path().join("options.yaml");
    std::fs::write(&opts, "brokers:\n  count: 5\nstorage:\n  size: 50Gi\nplacement:\n  zoneSpread: true\n").unwrap();
    let (code, out, err) = dromos(&[
        "package",
        "render",
        "kafka",
        "--options",
        opts.to_str().unwrap(),
        "-n",
        "data",
        "--instance",
        "events",
    ]);
    assert_eq!(code, 0, "{err}");
    golden("package/kafka.render.yaml", &out);
    assert!(out.contains("replicas: 5") && out.contains("name: events-headless"), "{out}");
    // Options the schema refuses: exit 1, the option path and rule on stderr.
    std::fs::write(&opts, "brokers:\n  count: 50\n").unwrap();
    let (code, _, err) = dromos(&["package", "render", "kafka", "--options", opts.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("brokers.count") && err.contains("maximum"), "{err}");
}
