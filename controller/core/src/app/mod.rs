//! The App model (pure): what validate, translate, plan, the App operator and the scheduler
//! all need to know about one App, computed in one place. Its id and group (by the rule of
//! [`crate::ids`]), its dependencies resolved to `(namespace, name)`, its parsed constraints
//! and its ports; [`graph`] relates the Apps of a tree (lookup by id, dependency levels).

pub mod graph;
pub mod ports;

pub use graph::{Catalog, Entry, levels};
pub use ports::{image, is_host_networking, is_resident, port_count, port_names};

use crate::constraints::{self, Constraint, ConstraintProblem, ParsedConstraints};
use crate::ids;
use crate::load::Manifest;
use dromos_crds::app::App;

/// One App at its Kubernetes location.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The App.
    pub app: &'a App,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its name.
    pub name: &'a str,
}

impl<'a> Model<'a> {
    /// The App `app` stored as `namespace/name` (a live object, say).
    pub fn of(app: &'a App, namespace: &'a str, name: &'a str) -> Self {
        Self { app, namespace, name }
    }

    /// The App of a loaded manifest (the loader gives every App a namespace; `default` else).
    pub fn of_manifest(m: &'a Manifest, app: &'a App) -> Self {
        Self::of(app, m.namespace.as_deref().unwrap_or("default"), &m.name)
    }

    /// The Marathon id: `spec.id` when absolute, else `/namespace/name`.
    pub fn id(&self) -> String {
        match &self.app.spec.id {
            Some(id) if id.starts_with('/') => id.clone(),
            _ => ids::id_of(self.namespace, self.name),
        }
    }

    /// The group of the id, which relative dependencies are resolved against.
    pub fn group(&self) -> String {
        group_of(&self.id())
    }

    /// `(namespace, name)`.
    pub fn key(&self) -> (String, String) {
        (self.namespace.to_string(), self.name.to_string())
    }

    /// Each of `spec.dependencies` parsed into absolute id segments (relative ones against
    /// [`Model::group`]), or why it does not parse.
    pub fn dependency_ids(&self) -> Vec<Result<Vec<String>, String>> {
        let group = self.group();
        self.app.spec.dependencies.iter().map(|d| ids::parse_id(d, Some(&group))).collect()
    }

    /// Each of `spec.dependencies` resolved to `(namespace, name)` by [`resolve_dependencies`].
    pub fn dependencies(&self) -> Vec<Result<(String, String), String>> {
        resolve_dependencies(&self.id(), self.namespace, &self.app.spec.dependencies)
    }

    /// Every constraint when all of them parse, else a problem for each one that does not.
    pub fn constraints(&self) -> Result<Vec<Constraint>, Vec<ConstraintProblem>> {
        self.parsed_constraints().into_result()
    }

    /// The constraints that parse, with their index, and the problems of the others.
    pub fn parsed_constraints(&self) -> ParsedConstraints {
        constraints::parse_constraints(&self.app.spec.constraints)
    }
}

/// The constraints of an App, or every problem of those that do not parse in one message
/// (`spec.constraints[1][1]: unknown constraint operator ...; ...`), for a status that must
/// say why the App cannot be placed.
pub fn constraints_of(app: &App) -> Result<Vec<Constraint>, String> {
    constraints::parse_constraints(&app.spec.constraints)
        .into_result()
        .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
}

/// The Marathon id of an App manifest (its `spec.id`, else `/namespace/name`).
pub fn app_id(m: &Manifest, app: &App) -> String {
    Model::of_manifest(m, app).id()
}

/// The group of an id: `/shop/web/frontend` -> `/shop/web`, `/web` -> `/`.
pub fn group_of(id: &str) -> String {
    match id.rsplit_once('/') {
        Some((g, _)) if !g.is_empty() => g.to_string(),
        _ => "/".into(),
    }
}

/// `/a/b/c` from the segments of an id.
pub fn absolute_id(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

/// Resolves an App's dependency ids to `(namespace, name)` by the id rule of [`crate::ids`]:
/// relative ids against the App's group, one-segment ids in the App's namespace.
pub fn resolve_dependencies(app_id: &str, namespace: &str, deps: &[String]) -> Vec<Result<(String, String), String>> {
    let group = group_of(app_id);
    deps.iter()
        .map(|d| {
            let segs = ids::parse_id(d, Some(&group))?;
            let loc = ids::location_of(&segs);
            Ok((loc.namespace.unwrap_or_else(|| namespace.to_string()), loc.name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(spec: serde_json::Value) -> App {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "App",
            "metadata": {"name": "frontend", "namespace": "shop"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn the_id_is_the_spec_id_or_namespace_and_name() {
        let a = app(serde_json::json!({"cmd": "x"}));
        let m = Model::of(&a, "shop", "frontend");
        assert_eq!(
            (m.id(), m.group(), m.key()),
            ("/shop/frontend".into(), "/shop".into(), ("shop".into(), "frontend".into()))
        );
        let a = app(serde_json::json!({"id": "/shop/web/frontend", "cmd": "x"}));
        let m = Model::of(&a, "shop", "web-frontend");
        assert_eq!((m.id(), m.group()), ("/shop/web/frontend".to_string(), "/shop/web".to_string()));
        let a = app(serde_json::json!({"id": "frontend", "cmd": "x"}));
        assert_eq!(Model::of(&a, "shop", "frontend").id(), "/shop/frontend", "a relative spec.id is not the id");
        assert_eq!(group_of("/web"), "/");
    }

    #[test]
    fn dependencies_resolve_against_the_group() {
        let a = app(serde_json::json!({
            "id": "/shop/web/frontend", "cmd": "x",
            "dependencies": ["../db", "/shop/cache", "api", "/ops/queue/main", "/Bad"]
        }));
        let m = Model::of(&a, "shop", "web-frontend");
        let deps = m.dependencies();
        assert_eq!(deps[0], Ok(("shop".into(), "db".into())));
        assert_eq!(deps[2], Ok(("shop".into(), "web-api".into())));
        assert_eq!(deps[3], Ok(("ops".into(), "queue-main".into())));
        assert!(deps[4].is_err());
        let ids: Vec<String> = m.dependency_ids().into_iter().flatten().map(|s| absolute_id(&s)).collect();
        assert_eq!(ids, ["/shop/db", "/shop/cache", "/shop/web/api", "/ops/queue/main"]);
    }

    #[test]
    fn constraints_report_every_problem() {
        let a = app(serde_json::json!({"cmd": "x", "constraints": [["hostname", "UNIQUE"], ["rack", "MAX_PER", "0"]]}));
        let problems = Model::of(&a, "shop", "frontend").constraints().unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "spec.constraints[1][2]");
        let a = app(serde_json::json!({"cmd": "x", "constraints": [["hostname", "UNIQUE"]]}));
        assert_eq!(Model::of(&a, "shop", "frontend").constraints().unwrap()[0].display(), "[hostname, UNIQUE]");
        let a = app(
            serde_json::json!({"cmd": "x", "constraints": [["rack", "NEAR"], ["hostname", "UNIQUE"], ["x", "IS"]]}),
        );
        let message = constraints_of(&a).unwrap_err();
        assert_eq!(
            message,
            "spec.constraints[0][1]: unknown constraint operator `NEAR`; spec.constraints[2][1]: IS needs a value: the attribute value"
        );
    }

    #[test]
    fn dependency_ids_resolve_like_marathon() {
        let r = resolve_dependencies(
            "/shop/web/frontend",
            "shop",
            &["../db".into(), "/shop/cache".into(), "api".into(), "/ops/queue/main".into()],
        );
        let got: Vec<_> = r.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                ("shop".to_string(), "db".to_string()),
                ("shop".into(), "cache".into()),
                ("shop".into(), "web-api".into()),
                ("ops".into(), "queue-main".into())
            ]
        );
    }
}
