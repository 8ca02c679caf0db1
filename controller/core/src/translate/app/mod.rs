//! Translation of an App into its native objects (pure): a Deployment or StatefulSet, its
//! Services and its PodDisruptionBudget. [`render_app`] calls one function per section.

mod containers;
mod env;
mod ports;
mod probes;
mod scheduling;
mod services;
mod volumes;
mod workload;

pub use ports::DYNAMIC_PORT_BASE;

use super::{APP_LABEL, Expansion, ID_ANNOTATION, RenderOptions, VERSION_ANNOTATION, app_version, base_labels};
use crate::app::{app_id, is_resident};
use crate::load::Manifest;
use dromos_crds::app::App;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use ports::PortInfo;
use std::collections::BTreeMap;

/// What every section of an App's translation reads.
struct Ctx<'a> {
    m: &'a Manifest,
    app: &'a App,
    opts: &'a RenderOptions,
    /// Object name of the workload and its Service.
    name: String,
    /// Marathon id.
    id: String,
    /// Spec version ([`app_version`]).
    version: String,
    instances: i32,
    cpus: f64,
    mem: f64,
    disk: f64,
    gpus: f64,
    /// Selector of the App's pods.
    selector: BTreeMap<String, String>,
    /// Labels of every object of the App.
    labels: BTreeMap<String, String>,
    /// The ports of the app form.
    ports: Vec<PortInfo>,
    /// Has persistent volumes: a StatefulSet.
    resident: bool,
    /// The Docker image, when the app form gives one.
    image: Option<String>,
}

impl<'a> Ctx<'a> {
    fn new(m: &'a Manifest, app: &'a App, opts: &'a RenderOptions) -> Self {
        let s = &app.spec;
        let name = m.name.clone();
        let mut labels = base_labels("App");
        labels.insert("app.kubernetes.io/name".into(), name.clone());
        labels.insert(APP_LABEL.into(), name.clone());
        Ctx {
            m,
            app,
            opts,
            id: app_id(m, app),
            version: app_version(&m.value["spec"]),
            instances: s.instances.unwrap_or(1),
            cpus: s.cpus.unwrap_or(1.0),
            mem: s.mem.unwrap_or(128.0),
            disk: s.disk.unwrap_or(0.0),
            gpus: s.gpus.unwrap_or(0.0),
            selector: BTreeMap::from([(APP_LABEL.to_string(), name.clone())]),
            labels,
            ports: ports::app_ports(app),
            resident: is_resident(app),
            image: s.container.as_ref().and_then(|c| c.docker.as_ref()).map(|d| d.image.clone()),
            name,
        }
    }

    /// Metadata of an object of the App named `n`.
    fn meta(&self, n: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(n.to_string()),
            namespace: self.m.namespace.clone(),
            labels: Some(self.labels.clone()),
            annotations: Some(BTreeMap::from([(ID_ANNOTATION.to_string(), self.id.clone())])),
            ..Default::default()
        }
    }

    /// The id and version annotations of the workload and its pods.
    fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (ID_ANNOTATION.to_string(), self.id.clone()),
            (VERSION_ANNOTATION.to_string(), self.version.clone()),
        ])
    }
}

/// Renders an App into its native objects.
pub fn render_app(m: &Manifest, app: &App, opts: &RenderOptions) -> Expansion {
    let cx = Ctx::new(m, app, opts);
    let mut exp = Expansion::default();
    let injected = env::injected(&cx);
    let pod = containers::pod_parts(&cx, injected, &mut exp.warnings);
    let placement = scheduling::placement(&cx, &mut exp.warnings);
    let template = workload::pod_template(&cx, pod.containers, pod.init, pod.volumes, placement);
    workload::push_workload(&cx, template, pod.claims, &mut exp);
    services::push_services(&cx, &mut exp);
    workload::push_disruption_budget(&cx, &mut exp);
    exp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_spec(spec: serde_json::Value) -> Expansion {
        let obj = serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "App",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": spec
        });
        let tree = crate::check_live("App shop/web", &obj, &crate::LoadOptions::default());
        assert!(tree.is_valid(), "{:?}", tree.diagnostics);
        let m = &tree.manifests[0];
        let crate::Typed::App(app) = &m.typed else { panic!("not an App") };
        render_app(m, app, &RenderOptions::default())
    }

    #[test]
    fn pull_config_becomes_image_pull_secrets() {
        let pod = |spec: serde_json::Value| {
            let exp = render_spec(spec);
            exp.objects.iter().find(|o| o["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"].clone()
        };
        let image =
            serde_json::json!({"docker": {"image": "registry.example.com/web:1", "pullConfig": {"secret": "regcred"}}});
        let p = pod(serde_json::json!({"container": image}));
        assert_eq!(p["imagePullSecrets"], serde_json::json!([{"name": "regcred"}]));
        // An entry of `secrets`: its source names the Secret; a DC/OS path is joined.
        let mut image = image;
        image["docker"]["pullConfig"]["secret"] = "pull".into();
        let p = pod(serde_json::json!({"container": image, "secrets": {"pull": {"source": "/shop/registry"}}}));
        assert_eq!(p["imagePullSecrets"], serde_json::json!([{"name": "shop-registry"}]));
        let p = pod(serde_json::json!({"container": {"docker": {"image": "web:1"}}}));
        assert!(p.get("imagePullSecrets").is_none(), "{p}");
    }

    #[test]
    fn placement_mode_chooses_the_scheduler() {
        let spec = serde_json::json!({
            "cmd": "sleep 1", "instances": 3, "acceptedResourceRoles": ["slave_public"],
            "constraints": [["@zone", "GROUP_BY", "3"], ["rack", "MAX_PER", "2"]]
        });
        let exact = render_spec(spec.clone());
        let pod = &exact.objects.iter().find(|o| o["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"];
        assert_eq!(pod["schedulerName"], "dromos");
        assert!(pod.get("affinity").is_none() && pod.get("topologySpreadConstraints").is_none(), "{pod}");
        assert_eq!(pod["tolerations"][0]["value"], "slave_public", "role tolerations stay");
        assert!(exact.warnings.is_empty(), "exact mode holds every constraint: {:?}", exact.warnings);

        let mut spec = spec;
        spec["placementMode"] = "native".into();
        let native = render_spec(spec);
        let pod = &native.objects.iter().find(|o| o["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"];
        assert!(pod.get("schedulerName").is_none());
        assert!(pod["affinity"]["nodeAffinity"].is_object() && pod["topologySpreadConstraints"].is_array(), "{pod}");
        assert_eq!(native.warnings.len(), 2, "{:?}", native.warnings);
    }
}
