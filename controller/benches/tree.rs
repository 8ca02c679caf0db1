//! Benchmark: load, validate and render a generated repository of 10,000 Apps and 1,000 Jobs.
//!
//!     cargo bench -p dromos --bench tree            # defaults: 10000 apps, 1000 jobs
//!     cargo bench -p dromos --bench tree -- 2000 200
//!
//! Writes the repository to a temporary directory (100 team directories, one App or Job per
//! file, like a real repo), then times each phase and reports the peak resident memory of the
//! process (VmHWM). Results go to BENCHMARKS.md by hand, with the machine and the command.

use dromos::fsread;
use dromos::procstat::{peak_rss_mib, rss_mib};
use dromos_core::{LoadOptions, RenderOptions, render};
use std::time::Instant;

fn app(team: usize, i: usize) -> String {
    let zone_rule = match i % 4 {
        0 => "    - [hostname, UNIQUE]\n",
        1 => "    - [\"@zone\", GROUP_BY, \"3\"]\n",
        2 => "    - [rack, LIKE, \"rack-[0-9]+\"]\n",
        _ => "    - [\"@region\", IS, region-1]\n",
    };
    let dep = if i % 10 == 9 { format!("  dependencies: [/team-{team}/svc-{}]\n", i - 1) } else { String::new() };
    format!(
        "apiVersion: dromos.io/v1alpha1
kind: App
spec:
  id: /team-{team}/svc-{i}
  instances: {inst}
  cpus: 0.25
  mem: 256
  container:
    docker:
      image: registry.example.com/team-{team}/svc-{i}:1.{i}
    portMappings:
      - {{containerPort: 8080, name: http, labels: {{VIP_0: /team-{team}/svc-{i}:80}}}}
  networks: [{{mode: container/bridge}}]
  env:
    LOG_LEVEL: info
    DB_PASSWORD: {{secret: db}}
  secrets:
    db: {{source: /team-{team}/db/password}}
  healthChecks:
    - {{protocol: HTTP, path: /health, portIndex: 0, intervalSeconds: 10, timeoutSeconds: 5}}
  upgradeStrategy: {{minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5}}
  constraints:
{zone_rule}{dep}  labels:
    HAPROXY_GROUP: external
",
        inst = 1 + i % 5
    )
}

fn job(team: usize, i: usize) -> String {
    let trigger = match i % 3 {
        0 => "  schedules:\n    - {cron: \"0 2 * * *\", timezone: Europe/Paris}\n".to_string(),
        1 => "  schedule: R/2026-01-01T00:00:00Z/PT1H\n".to_string(),
        _ => format!("  parents: [job-{}]\n", i - 1),
    };
    format!(
        "apiVersion: dromos.io/v1alpha1
kind: Job
metadata:
  name: job-{i}
  namespace: team-{team}
spec:
  run:
    cmd: run-batch --id {i}
    cpus: 0.5
    mem: 512
    docker: {{image: registry.example.com/team-{team}/batch:2}}
{trigger}"
    )
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let apps = args.first().copied().unwrap_or(10_000);
    let jobs = args.get(1).copied().unwrap_or(1_000);
    let teams = 100;
    let dir = tempfile::tempdir().expect("tempdir");
    for t in 0..teams {
        std::fs::create_dir_all(dir.path().join(format!("team-{t}/apps"))).unwrap();
        std::fs::create_dir_all(dir.path().join(format!("team-{t}/jobs"))).unwrap();
    }
    for i in 0..apps {
        let team = i % teams;
        std::fs::write(dir.path().join(format!("team-{team}/apps/svc-{}.yaml", i / teams)), app(team, i / teams))
            .unwrap();
    }
    for i in 0..jobs {
        let team = i % teams;
        std::fs::write(dir.path().join(format!("team-{team}/jobs/job-{}.yaml", i / teams)), job(team, i / teams))
            .unwrap();
    }
    let rss_before = peak_rss_mib();

    let t0 = Instant::now();
    let files = fsread::fetch_tree(dir.path(), 8 << 20).expect("read tree");
    let t_read = t0.elapsed();
    let bytes: usize = files.files.iter().map(|f| f.bytes.len()).sum();

    let t1 = Instant::now();
    let threads = dromos::threads();
    let tree = dromos_core::check_tree(&files.files, &LoadOptions { threads, ..Default::default() });
    let t_check = t1.elapsed();
    eprintln!("rss after load+validate: {:.1} MiB", rss_mib());
    let errors: Vec<_> = tree.diagnostics.iter().filter(|d| d.is_error()).take(3).collect();
    assert!(errors.is_empty(), "generated tree must be valid: {errors:?}");

    let t2 = Instant::now();
    let out = render::render_serialized(&tree.manifests, &RenderOptions::default(), render::Format::Yaml, threads);
    let t_render = t2.elapsed();
    let total = t0.elapsed();

    println!("threads: {threads}");
    println!("tree: {apps} apps + {jobs} jobs in {} files, {:.1} MiB", files.files.len(), bytes as f64 / 1048576.0);
    println!("read files:          {:>8.1} ms", t_read.as_secs_f64() * 1e3);
    println!(
        "load + validate:     {:>8.1} ms ({} manifests, {} warnings)",
        t_check.as_secs_f64() * 1e3,
        tree.manifests.len(),
        tree.diagnostics.len()
    );
    println!(
        "render + YAML:       {:>8.1} ms ({} objects, {} approximation warnings, {:.1} MiB of YAML)",
        t_render.as_secs_f64() * 1e3,
        out.objects,
        out.warnings.len(),
        out.len() as f64 / 1048576.0
    );
    println!("total:               {:>8.1} ms", total.as_secs_f64() * 1e3);
    println!("peak RSS:            {:>8.1} MiB (before loading: {rss_before:.1} MiB)", peak_rss_mib());
}
