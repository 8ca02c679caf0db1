use super::plan::{Actions, Command, Decommission, Instance, Observed, Verb, command, decide, tree};
use super::spec::{ServiceSpec, parse};
use dromos_crds::package::{ElementStatus, PlanStatus};
use std::collections::BTreeMap;

const KAFKA: &str = r#"
pods:
  broker:
    count: 3
    image: apache/kafka:3.9.1
    placement: [["hostname", "UNIQUE"]]
    volumes: [{name: data, path: /var/lib/kafka, size: 10Gi}]
    tasks:
      server:
        goal: RUNNING
        cmd: kafka-server-start.sh config/server.properties
        cpus: 1
        memory: 2048
        ports: {broker: 9092}
        readiness: {cmd: "kafka-broker-api-versions.sh --bootstrap-server localhost:9092"}
plans:
  deploy:
    phases:
      - {name: brokers, pod: broker}
  update:
    phases:
      - {name: brokers, pod: broker, strategy: serial-canary}
"#;

const HDFS: &str = r#"
pods:
  journal:
    count: 3
    image: hdfs
    volumes: [{name: edits, path: /data, size: 1Gi}]
    tasks:
      node: {goal: RUNNING, cmd: journalnode, cpus: 0.5, memory: 512}
  name:
    count: 2
    image: hdfs
    volumes: [{name: meta, path: /data, size: 1Gi}]
    tasks:
      format: {goal: ONCE, cmd: hdfs namenode -format, cpus: 0.5, memory: 512}
      node: {goal: RUNNING, cmd: namenode, cpus: 0.5, memory: 512}
  data:
    count: 3
    image: hdfs
    tasks:
      node: {goal: RUNNING, cmd: datanode, cpus: 0.5, memory: 512}
plans:
  deploy:
    phases:
      - {name: journal, pod: journal, strategy: parallel}
      - {name: name, pod: name}
      - {name: data, pod: data, strategy: parallel}
"#;

/// A StatefulSet with `OnDelete` and its pods, as the operator drives them: `replicas`
/// creates missing instances at the current template, deleted pods come back at it with a new
/// uid, and a new pod is ready one tick after it was created (unless the test says it fails).
struct Cluster {
    spec: ServiceSpec,
    targets: BTreeMap<String, String>,
    observed: Observed,
    plans: Vec<PlanStatus>,
    replicas: BTreeMap<String, u32>,
    uid: u32,
    /// Pods created but not ready yet.
    young: Vec<(String, u32)>,
    /// Instances whose pods fail (never ready, failed).
    failing: Vec<(String, u32)>,
    /// Instances whose decommission commands fail.
    failing_decommission: Vec<(String, u32)>,
    /// Decommission runs, in order.
    decommissioned: Vec<String>,
    /// Pods created, in order.
    created: Vec<String>,
    /// Pods deleted, in order.
    deleted: Vec<String>,
    /// Claims deleted, in order.
    claims: Vec<String>,
    events: Vec<String>,
}

impl Cluster {
    fn new(yaml: &str) -> Self {
        let spec = parse("service.yaml", yaml).unwrap_or_else(|e| panic!("{e:#?}"));
        let targets = spec.pods.keys().map(|p| (p.clone(), "r1".to_string())).collect();
        Cluster {
            spec,
            targets,
            observed: Observed::new(),
            plans: vec![],
            replicas: BTreeMap::new(),
            uid: 0,
            young: vec![],
            failing: vec![],
            failing_decommission: vec![],
            decommissioned: vec![],
            created: vec![],
            deleted: vec![],
            claims: vec![],
            events: vec![],
        }
    }

    /// One reconcile, then the cluster reacts.
    fn step(&mut self) -> Actions {
        let (plans, actions) = decide(&self.spec, &self.plans, &self.targets, &self.observed);
        // State goes through the status as JSON, as it does between reconciles.
        let json = serde_json::to_value(&plans).unwrap();
        self.plans = serde_json::from_value(json).unwrap();
        self.events.extend(actions.events.iter().map(|e| format!("{} {}", e.1, e.2)));
        // Pods that were young are ready now (or fail).
        for key in std::mem::take(&mut self.young) {
            if let Some(i) = self.observed.get_mut(&key) {
                if self.failing.contains(&key) {
                    i.failed = Some("task format exited 1".into());
                } else {
                    i.ready = true;
                }
            }
        }
        // Decommission commands that ran finish now; new ones start.
        for i in self.observed.values_mut() {
            if i.decommission == Decommission::Running {
                i.decommission = Decommission::Done;
            }
        }
        for key in &actions.decommission {
            self.decommissioned.push(format!("{}-{}", key.0, key.1));
            if let Some(i) = self.observed.get_mut(key) {
                i.decommission = if self.failing_decommission.contains(key) {
                    Decommission::Failed("nodetool exited 1".into())
                } else {
                    Decommission::Running
                };
            }
        }
        for key in &actions.delete_pods {
            if self.observed.remove(key).is_some() {
                self.deleted.push(format!("{}-{}", key.0, key.1));
            }
        }
        for key in &actions.delete_claims {
            self.claims.push(format!("{}-{}", key.0, key.1));
        }
        self.replicas = actions.replicas.clone();
        for (pod, n) in &self.replicas {
            // Above replicas: removed (highest first, as a StatefulSet scales down).
            self.observed.retain(|(p, i), _| p != pod || i < n);
            for i in 0..*n {
                let key = (pod.clone(), i);
                if !self.observed.contains_key(&key) {
                    self.uid += 1;
                    let inst = Instance {
                        exists: true,
                        uid: format!("u{}", self.uid),
                        revision: self.targets[pod].clone(),
                        ..Default::default()
                    };
                    self.observed.insert(key.clone(), inst);
                    self.young.push(key);
                    self.created.push(format!("{pod}-{i}"));
                }
            }
        }
        actions
    }

    fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    fn plan(&self, name: &str) -> &PlanStatus {
        self.plans.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no plan {name}: {:#?}", self.plans))
    }

    fn cmd(&mut self, plan: &str, phase: Option<&str>, step: Option<&str>, verb: Verb) -> Result<String, String> {
        let c = Command { plan: plan.into(), phase: phase.map(String::from), step: step.map(String::from), verb };
        command(&mut self.plans, &c)
    }
}

#[test]
fn deploy_serial_creates_one_broker_at_a_time_in_order() {
    let mut c = Cluster::new(KAFKA);
    let mut most_not_ready = 0;
    for _ in 0..20 {
        c.step();
        let not_ready = c.observed.values().filter(|i| !i.ready).count();
        most_not_ready = most_not_ready.max(not_ready);
    }
    assert_eq!(c.created, ["broker-0", "broker-1", "broker-2"]);
    assert_eq!(most_not_ready, 1, "never two brokers starting at once");
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete);
    assert_eq!(c.replicas["broker"], 3);
    let text = tree(c.plan("deploy"), "serial");
    assert!(text.contains("└─ broker-2:[server] (COMPLETE)"), "{text}");
    assert!(c.events.iter().any(|e| e == "StepComplete deploy: broker-0:[server]"), "{:?}", c.events);
}

#[test]
fn phases_run_in_order_and_parallel_phases_start_every_step_at_once() {
    let mut c = Cluster::new(HDFS);
    c.step();
    assert_eq!(c.created, ["journal-0", "journal-1", "journal-2"], "the journal phase is parallel");
    assert!(c.observed.keys().all(|(p, _)| p == "journal"), "name nodes wait for every journal node");
    c.run(3);
    assert_eq!(c.plan("deploy").phases[0].status, ElementStatus::Complete);
    assert!(c.created.contains(&"name-0".to_string()) && !c.created.contains(&"name-1".to_string()));
    c.run(10);
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete);
    let order: Vec<&str> = c.created.iter().map(String::as_str).collect();
    assert_eq!(order, ["journal-0", "journal-1", "journal-2", "name-0", "name-1", "data-0", "data-1", "data-2"]);
    let steps: Vec<&str> = c.plan("deploy").phases[1].steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["name-0:[format, node]", "name-1:[format, node]"], "ONCE tasks first");
}

#[test]
fn a_config_change_updates_one_broker_at_a_time_behind_a_canary() {
    let mut c = Cluster::new(KAFKA);
    c.run(20);
    c.targets.insert("broker".into(), "r2".into());
    c.run(5);
    assert_eq!(c.plan("update").status, ElementStatus::Waiting, "a canary waits for the first proceed");
    assert!(c.deleted.is_empty());
    c.cmd("update", Some("brokers"), None, Verb::Resume).unwrap();
    c.run(5);
    assert_eq!(c.deleted, ["broker-0"], "the first proceed updates the first broker only");
    assert_eq!(c.observed[&("broker".to_string(), 0)].revision, "r2");
    assert_eq!(c.plan("update").phases[0].steps[0].status, ElementStatus::Complete);
    assert_eq!(c.plan("update").phases[0].status, ElementStatus::Waiting);
    c.cmd("update", Some("brokers"), None, Verb::Resume).unwrap();
    let mut most_down = 0;
    for _ in 0..20 {
        c.step();
        most_down = most_down.max(c.observed.values().filter(|i| !i.ready).count() + (3 - c.observed.len()));
    }
    assert_eq!(c.deleted, ["broker-0", "broker-1", "broker-2"]);
    assert_eq!(most_down, 1, "one broker at a time");
    assert_eq!(c.plan("update").status, ElementStatus::Complete);
    assert!(c.observed.values().all(|i| i.revision == "r2" && i.ready));
}

#[test]
fn a_paused_plan_starts_nothing_until_resumed() {
    let mut c = Cluster::new(KAFKA);
    c.run(3);
    assert_eq!(c.created, ["broker-0", "broker-1"]);
    c.cmd("deploy", None, None, Verb::Pause).unwrap();
    c.run(10);
    assert_eq!(c.created, ["broker-0", "broker-1"], "broker-1 finishes, nothing new starts");
    assert_eq!(c.plan("deploy").status, ElementStatus::Waiting);
    c.cmd("deploy", None, None, Verb::Resume).unwrap();
    c.run(5);
    assert_eq!(c.created, ["broker-0", "broker-1", "broker-2"]);
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete);
}

#[test]
fn a_failed_step_stops_the_plan_with_its_reason_until_restarted() {
    let mut c = Cluster::new(HDFS);
    c.failing.push(("name".into(), 0));
    c.run(10);
    let deploy = c.plan("deploy");
    assert_eq!(deploy.status, ElementStatus::Error);
    assert_eq!(deploy.message.as_deref(), Some("step name-0:[format, node] failed: task format exited 1"));
    assert!(!c.created.iter().any(|p| p == "name-1" || p.starts_with("data")), "{:?}", c.created);
    assert!(c.events.iter().any(|e| e.starts_with("StepFailed deploy: name-0")), "{:?}", c.events);
    // Fixed (say, the volume cleaned up); restarting the step replaces its pod.
    c.failing.clear();
    c.cmd("deploy", Some("name"), Some("name-0"), Verb::Restart).unwrap();
    c.run(12);
    assert_eq!(c.deleted, ["name-0"]);
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete, "{}", tree(c.plan("deploy"), "serial"));
}

#[test]
fn force_complete_skips_a_step() {
    let mut c = Cluster::new(HDFS);
    c.failing.push(("name".into(), 0));
    c.run(10);
    c.cmd("deploy", Some("name"), Some("name-0"), Verb::ForceComplete).unwrap();
    c.run(10);
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete);
    assert!(c.created.contains(&"data-2".to_string()));
}

#[test]
fn a_lost_instance_is_replaced_with_new_volumes_by_the_recovery_plan() {
    let mut c = Cluster::new(KAFKA);
    c.run(20);
    c.observed.get_mut(&("broker".to_string(), 1)).unwrap().lost = true;
    let actions = c.step();
    assert_eq!(actions.delete_pods, [("broker".to_string(), 1)]);
    assert_eq!(actions.delete_claims, [("broker".to_string(), 1)]);
    assert!(actions.force.is_empty(), "an unreachable node may come back: its pod is deleted gracefully");
    assert_eq!(c.plan("recovery").phases[0].steps[0].name, "broker-1:replace");
    c.run(3);
    assert_eq!(c.plan("recovery").status, ElementStatus::Complete);
    assert_eq!(c.claims, ["broker-1"]);
    assert!(c.observed[&("broker".to_string(), 1)].ready);
    // A pod that is simply gone comes back by a launch step, volumes kept.
    c.observed.remove(&("broker".to_string(), 2));
    c.run(3);
    let steps: Vec<&str> = c.plan("recovery").phases[0].steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["broker-1:replace", "broker-2:launch"]);
    assert_eq!(c.claims, ["broker-1"], "no volume deleted for a pod that was only gone");
    // Its node deleted: the pod goes at once, no kubelet will confirm its end.
    let inst = c.observed.get_mut(&("broker".to_string(), 0)).unwrap();
    (inst.lost, inst.node_gone) = (true, true);
    let actions = c.step();
    assert_eq!(actions.force, [("broker".to_string(), 0)]);
}

#[test]
fn a_smaller_count_decommissions_the_highest_instances_first() {
    let mut c = Cluster::new(KAFKA);
    c.run(20);
    c.spec.pods.get_mut("broker").unwrap().count = 1;
    c.run(6);
    let steps: Vec<&str> = c.plan("decommission").phases[0].steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["broker-2:remove", "broker-1:remove"]);
    assert_eq!(c.plan("decommission").status, ElementStatus::Complete);
    assert_eq!(c.claims, ["broker-2", "broker-1"]);
    assert_eq!(c.replicas["broker"], 1);
    assert_eq!(c.observed.len(), 1);
}

const CASSANDRA: &str = r#"
pods:
  node:
    count: 3
    image: cassandra:5.0.4
    volumes: [{name: data, path: /var/lib/cassandra, size: 10Gi}]
    tasks:
      server:
        goal: RUNNING
        cmd: exec cassandra -f
        cpus: 1
        memory: 2048
        decommission: nodetool decommission
plans:
  deploy:
    phases:
      - {name: nodes, pod: node}
"#;

#[test]
fn removal_waits_for_the_decommission_commands_and_keeps_the_instance_when_they_fail() {
    let mut c = Cluster::new(CASSANDRA);
    c.run(20);
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete);
    c.failing_decommission.push(("node".into(), 2));
    c.spec.pods.get_mut("node").unwrap().count = 1;
    c.run(6);
    assert_eq!(c.decommissioned, ["node-2"], "the highest first, and nothing else while it fails");
    let d = c.plan("decommission");
    assert_eq!(d.status, ElementStatus::Error);
    assert_eq!(d.phases[0].steps[0].message.as_deref(), Some("decommission: nodetool exited 1"));
    assert_eq!(c.replicas["node"], 3, "a failed decommission removes nothing");
    assert!(c.claims.is_empty(), "and deletes no volume");
    assert!(c.events.iter().any(|e| e.starts_with("StepFailed decommission: node-2:remove: decommission")));
    // Fixed; restarting the step runs the commands again.
    c.failing_decommission.clear();
    c.cmd("decommission", Some("node"), Some("node-2"), Verb::Restart).unwrap();
    let mut kept = vec![];
    for _ in 0..12 {
        c.step();
        kept.push(c.replicas["node"]);
    }
    assert_eq!(c.decommissioned, ["node-2", "node-2", "node-1"]);
    assert_eq!(c.plan("decommission").status, ElementStatus::Complete, "{}", tree(c.plan("decommission"), "serial"));
    assert_eq!(c.claims, ["node-2", "node-1"], "volumes go after their instance's commands exited 0");
    assert_eq!(c.observed.len(), 1);
    assert!(kept.windows(2).all(|w| w[1] <= w[0]) && kept.contains(&2), "one instance at a time: {kept:?}");
}

#[test]
fn a_plan_of_the_packages_own_starts_on_request_and_restarts_each_instance_in_turn() {
    let yaml = KAFKA.replace(
        "  update:\n",
        "  rolling-restart:\n    phases:\n      - {name: brokers, pod: broker, strategy: serial}\n  update:\n",
    );
    let mut c = Cluster::new(&yaml);
    c.run(20);
    assert!(!c.plans.iter().any(|p| p.name == "rolling-restart"), "a plan of its own waits for `start`");
    let err = super::plan::start(&c.spec, &mut c.plans, &c.targets, "deploy").unwrap_err();
    assert!(err.contains("(rolling-restart)"), "{err}");
    super::plan::start(&c.spec, &mut c.plans, &c.targets, "rolling-restart").unwrap();
    c.step();
    let again = super::plan::start(&c.spec, &mut c.plans, &c.targets, "rolling-restart");
    assert_eq!(again, Err("plan rolling-restart is running; restart it instead".into()));
    let mut most_down = 0;
    for _ in 0..20 {
        c.step();
        most_down = most_down.max(c.observed.values().filter(|i| !i.ready).count() + (3 - c.observed.len()));
    }
    assert_eq!(c.deleted, ["broker-0", "broker-1", "broker-2"]);
    assert_eq!(most_down, 1);
    assert_eq!(c.plan("rolling-restart").status, ElementStatus::Complete);
    // Complete: it may start again.
    assert!(super::plan::start(&c.spec, &mut c.plans, &c.targets, "rolling-restart").is_ok());
}

#[test]
fn commands_name_what_exists() {
    let mut c = Cluster::new(KAFKA);
    c.step();
    assert_eq!(c.cmd("nope", None, None, Verb::Pause), Err("no plan \"nope\"".into()));
    assert_eq!(c.cmd("deploy", Some("x"), None, Verb::Pause), Err("no phase \"x\" in plan deploy".into()));
    assert_eq!(
        c.cmd("deploy", Some("brokers"), Some("broker-9"), Verb::Restart),
        Err("no step \"broker-9\" in phase brokers".into())
    );
    assert_eq!(
        c.cmd("deploy", Some("brokers"), Some("broker-0"), Verb::Pause),
        Err("pause applies to a plan or a phase".into())
    );
    assert_eq!(Verb::parse("continue"), Some(Verb::Resume));
    assert_eq!(Verb::parse("explode"), None);
}

#[test]
fn a_spec_with_problems_is_refused_with_each_at_its_line() {
    let yaml = r#"
pods:
  broker:
    count: 2000
    placement: [["hostname", "SOMETIMES"]]
    tasks:
      server: {goal: ONCE, cmd: x, cpus: 0, memory: 1}
plans:
  update:
    strategy: serial-canary
    phases:
      - {name: a, pod: nobody}
      - {name: b, pod: broker, tasks: [missing], dependsOn: [c]}
      - {name: c, pod: broker, dependsOn: [b]}
"#;
    let errors = parse("svc/service.yaml", yaml).unwrap_err();
    let got: Vec<String> = errors.iter().map(|d| format!("{}:{} {}: {}", d.file, d.line, d.field, d.message)).collect();
    let want = [
        "svc/service.yaml:4 pods.broker.count: 2000 instances: at most 1000",
        "svc/service.yaml:5 pods.broker.placement[0]",
        "svc/service.yaml:6 pods.broker.tasks: one task with goal RUNNING is required (the instance's process)",
        "svc/service.yaml:3 pods.broker.volumes: a ONCE task needs a volume (its marker lives there)",
        "svc/service.yaml:7 pods.broker.tasks.server.image: no image: give one here or on the pod type",
        "svc/service.yaml:7 pods.broker.tasks.server.cpus: 0: more than 0",
        "svc/service.yaml:7 pods.broker.tasks.server.memory: 1 MiB: at least 4",
        "svc/service.yaml:8 plans: a `deploy` plan is required",
        "svc/service.yaml:10 plans.update.strategy: canary strategies apply to a phase's steps",
        "svc/service.yaml:12 plans.update.phases[0].pod: no pod type \"nobody\"",
        "svc/service.yaml:13 plans.update.phases[1].tasks[0]: pod type broker has no task \"missing\"",
        "svc/service.yaml:11 plans.update.phases: dependsOn cycle: b -> c -> b",
    ];
    for w in want {
        assert!(got.iter().any(|g| g.starts_with(w)), "missing {w:?} in:\n{}", got.join("\n"));
    }
    assert_eq!(got.len(), want.len(), "{}", got.join("\n"));
    let unknown = parse("s.yaml", "pods: {}\nplans: {}\nextra: 1\n").unwrap_err();
    assert_eq!((unknown[0].line, unknown[0].code), (3, "service-field"), "the unknown field's own line: {unknown:?}");
    assert!(unknown[0].message.contains("unknown field `extra`"), "{unknown:?}");
}

fn owner() -> super::render::Owner<'static> {
    super::render::Owner {
        namespace: "data",
        instance: "hdfs",
        labels: BTreeMap::from([("dromos.io/package-instance".to_string(), "hdfs".to_string())]),
    }
}

#[test]
fn pod_types_render_as_statefulsets_the_plans_drive() {
    use super::render::{ANN_REVISION, objects, revisions};
    let spec = parse("service.yaml", HDFS).unwrap();
    let objs = objects(&spec, "name", 1, &owner());
    let (svc, set) = (&objs[0], &objs[1]);
    assert_eq!(svc["spec"]["clusterIP"], "None");
    assert_eq!(set["metadata"]["name"], "hdfs-name");
    assert_eq!(set["spec"]["replicas"], 1);
    assert_eq!(set["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(set["spec"]["updateStrategy"]["type"], "OnDelete");
    assert_eq!(set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "1Gi");
    let pod = &set["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["dromos.io/service-pod"], "name");
    // The ONCE format runs before the node, once per volume.
    let init = &pod["spec"]["initContainers"][0];
    assert_eq!(init["name"], "format");
    let script = init["command"][2].as_str().unwrap();
    assert!(
        script.starts_with("if [ -e /data/.dromos-once-format ]; then exit 0; fi\nhdfs namenode -format"),
        "{script}"
    );
    assert!(script.ends_with("touch /data/.dromos-once-format"), "{script}");
    assert_eq!(pod["spec"]["containers"][0]["name"], "node");
    assert_eq!(pod["spec"]["containers"][0]["resources"]["requests"]["memory"], "512Mi");
    let revs = revisions(&spec, &owner());
    assert_eq!(pod["metadata"]["annotations"][ANN_REVISION], revs["name"].as_str());
    // The revision follows what pods are made of, not how many there are.
    assert_eq!(objects(&spec, "name", 2, &owner())[1]["metadata"]["annotations"][ANN_REVISION], revs["name"].as_str());
    let mut changed = spec.clone();
    changed.pods.get_mut("name").unwrap().tasks.get_mut("node").unwrap().cmd = "namenode --other".into();
    let revs2 = revisions(&changed, &owner());
    assert_ne!(revs2["name"], revs["name"]);
    assert_eq!(revs2["journal"], revs["journal"], "other pod types keep their revision");
}

#[test]
fn config_files_render_into_a_config_map_named_by_their_content_and_tasks_learn_where_they_run() {
    use super::render::{objects, revisions};
    let yaml = r#"
pods:
  broker:
    count: 2
    image: apache/kafka:3.9.1
    fsGroup: 1000
    volumes: [{name: data, path: /data, size: 1Gi, storageClass: fast}]
    tasks:
      server:
        goal: RUNNING
        cmd: run
        cpus: 1
        memory: 512
        ports: {broker: 9092}
        readiness: {tcp: {port: broker}}
        configs:
          server: {path: /etc/kafka/server.properties, content: "num.partitions=3\n"}
plans:
  deploy:
    phases: [{name: brokers, pod: broker}]
"#;
    let spec = parse("service.yaml", yaml).unwrap_or_else(|e| panic!("{e:#?}"));
    let objs = objects(&spec, "broker", 2, &owner());
    let (cm, set) = (&objs[0], &objs[2]);
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["data"]["server.server"], "num.partitions=3\n");
    let name = cm["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("hdfs-broker-config-"), "{name}");
    let pod = &set["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][0]["configMap"]["name"], name);
    assert_eq!(pod["securityContext"]["fsGroup"], 1000);
    assert_eq!(set["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "fast");
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["tcpSocket"]["port"], "broker");
    let mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "dromos-config").unwrap();
    assert_eq!(
        (mount["mountPath"].as_str(), mount["subPath"].as_str()),
        (Some("/etc/kafka/server.properties"), Some("server.server"))
    );
    let env: BTreeMap<String, serde_json::Value> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e.get("value").cloned().unwrap_or(e["valueFrom"].clone())))
        .collect();
    assert_eq!(env["POD_HOST"], "$(POD_NAME).hdfs-broker.data.svc");
    assert_eq!(env["POD_INSTANCE_INDEX"]["fieldRef"]["fieldPath"], "metadata.labels['apps.kubernetes.io/pod-index']");
    assert_eq!((env["POD_TYPE"].as_str(), env["SERVICE_NAME"].as_str()), (Some("broker"), Some("hdfs")));
    // A changed file is a new revision, under another ConfigMap name.
    let mut changed = spec.clone();
    let server = changed.pods.get_mut("broker").unwrap().tasks.get_mut("server").unwrap();
    server.configs.get_mut("server").unwrap().content = "num.partitions=6\n".into();
    assert_ne!(revisions(&changed, &owner())["broker"], revisions(&spec, &owner())["broker"]);
    assert_ne!(objects(&changed, "broker", 2, &owner())[0]["metadata"]["name"], name);
    // Problems are named at their line.
    let bad = yaml.replace("{tcp: {port: broker}}", "{tcp: {port: nope}}").replace("/etc/kafka/server", "etc/kafka");
    let got: Vec<String> =
        parse("s.yaml", &bad).unwrap_err().iter().map(|d| format!("{}:{}", d.line, d.field)).collect();
    assert_eq!(
        got,
        ["17:pods.broker.tasks.server.configs.server.path", "15:pods.broker.tasks.server.readiness.tcp.port"]
    );
}

#[test]
fn readiness_checks_and_placement_render_natively() {
    use super::render::objects;
    let spec = parse("service.yaml", KAFKA).unwrap();
    let set = &objects(&spec, "broker", 3, &owner())[1];
    let c = &set["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["readinessProbe"]["exec"]["command"][2],
        "kafka-broker-api-versions.sh --bootstrap-server localhost:9092"
    );
    assert_eq!(c["ports"][0], serde_json::json!({"name": "broker", "containerPort": 9092}));
    let anti = &set["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"];
    let term = &anti["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(term["topologyKey"], "kubernetes.io/hostname", "UNIQUE hostname: {anti}");
    assert_eq!(term["labelSelector"]["matchLabels"]["dromos.io/service-pod"], "broker");
}

#[test]
fn a_larger_count_extends_the_deploy_plan_and_keeps_its_pause() {
    let mut c = Cluster::new(KAFKA);
    c.spec.pods.get_mut("broker").unwrap().count = 2;
    c.run(10);
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete);
    c.cmd("deploy", None, None, Verb::Pause).unwrap();
    c.spec.pods.get_mut("broker").unwrap().count = 4;
    c.run(5);
    assert_eq!(c.created, ["broker-0", "broker-1"], "paused: nothing new");
    assert_eq!(c.plan("deploy").status, ElementStatus::Waiting);
    assert_eq!(c.plan("deploy").phases[0].steps[1].status, ElementStatus::Complete, "existing instances stay complete");
    assert!(!c.plans.iter().any(|p| p.name == "recovery"), "new instances are the deploy plan's, not recovery's");
    c.cmd("deploy", None, None, Verb::Resume).unwrap();
    c.run(10);
    assert_eq!(c.created, ["broker-0", "broker-1", "broker-2", "broker-3"]);
    assert_eq!(c.plan("deploy").status, ElementStatus::Complete);
}

#[test]
fn pods_become_instances_and_annotations_become_commands() {
    use super::observe::{instances, parse_command};
    let pod = |name: &str, index: &str, ready: &str, extra: serde_json::Value| -> k8s_openapi::api::core::v1::Pod {
        let mut p = serde_json::json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"),
                         "labels": {"dromos.io/service-pod": "node", "apps.kubernetes.io/pod-index": index},
                         "annotations": {"dromos.io/service-revision": "r1"}},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}
        });
        json_merge(&mut p, extra);
        serde_json::from_value(p).unwrap()
    };
    let failing = serde_json::json!({"status": {"initContainerStatuses": [{
        "name": "format", "image": "x", "imageID": "", "ready": false, "restartCount": 3,
        "lastState": {"terminated": {"exitCode": 2}}}]}});
    let replace = serde_json::json!({"metadata": {"annotations": {"dromos.io/replace": "true"}}});
    let on = |node: &str| serde_json::json!({"spec": {"nodeName": node, "containers": []}});
    let done = serde_json::json!({"metadata": {"annotations": {"dromos.io/decommissioned": "uid-s-node-0"}}});
    let stale = serde_json::json!({"metadata": {"annotations": {"dromos.io/decommissioned": "an-earlier-pod"}}});
    let mut first = on("n1");
    json_merge(&mut first, done);
    let pods = vec![
        pod("s-node-0", "0", "True", first),
        pod("s-node-1", "1", "Unknown", serde_json::json!({})),
        pod("s-node-2", "2", "False", failing),
        pod("s-node-3", "3", "True", replace),
        pod("s-node-4", "4", "True", on("deleted-node")),
        pod("s-node-5", "5", "True", stale),
        pod("other", "x", "True", serde_json::json!({})),
    ];
    let nodes = std::collections::BTreeSet::from(["n1".to_string()]);
    let running = BTreeMap::from([("uid-s-node-5".to_string(), Decommission::Running)]);
    let seen = instances(&pods, Some(&nodes), &running);
    assert_eq!(seen.len(), 6, "a pod without an index is not an instance");
    let at = |i: u32| seen[&("node".to_string(), i)].clone();
    assert!(at(0).ready && !at(0).lost && at(0).revision == "r1" && at(0).uid == "uid-s-node-0");
    assert!(at(1).lost, "Ready Unknown: its node stopped reporting");
    assert_eq!(at(2).failed.as_deref(), Some("task format exited 2 (3 restarts)"));
    assert!(at(3).lost, "marked for replacement");
    assert!(at(4).lost && at(4).node_gone, "bound to a node that is gone");
    assert!(at(1).lost && !at(1).node_gone, "unreachable is not gone");
    assert_eq!(at(0).decommission, Decommission::Done, "recorded on the pod, for this pod");
    assert_eq!(at(5).decommission, Decommission::Running, "an earlier pod's record is not this one's");
    assert!(!instances(&pods, None, &BTreeMap::new())[&("node".to_string(), 4)].lost, "nodes unknown: not judged");

    let (id, cmd) = parse_command("42 resume update/brokers").unwrap();
    assert_eq!(
        (id.as_str(), cmd.plan.as_str(), cmd.phase.as_deref(), cmd.step, cmd.verb),
        ("42", "update", Some("brokers"), None, Verb::Resume)
    );
    let (_, cmd) = parse_command("7 force-complete deploy/nodes/node-1").unwrap();
    assert_eq!(cmd.step.as_deref(), Some("node-1"));
    assert!(parse_command("7 explode deploy").unwrap_err().contains("unknown verb"));
    assert!(parse_command("pause deploy").unwrap_err().contains("expected"));
}

fn json_merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}
