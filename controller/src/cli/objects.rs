//! Reading Dromos objects for the listing and acting commands, and printing listings (I/O:
//! the cluster of the selected kubeconfig context, stdout).

use super::args::ListScope;
use super::output::structured;
use anyhow::{Context, Result};
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

/// What a namespaced kind must be to be read here.
pub(super) trait Namespaced:
    Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
{
}

impl<K> Namespaced for K where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
{
}

/// One object; the errors name the kind, the object and the cluster.
pub(super) async fn get<K: Namespaced>(cluster: &crate::apiclient::Cluster, ns: &str, name: &str) -> Result<K> {
    let kind = K::kind(&());
    Api::<K>::namespaced(cluster.client.clone(), ns)
        .get_opt(name)
        .await
        .with_context(|| format!("reading {kind} {ns}/{name} on {} (are the CRDs installed?)", cluster.described))?
        .with_context(|| format!("{kind} {ns}/{name} not found on {}", cluster.described))
}

/// The objects of a listing's scope (its namespace, the context's, or every namespace),
/// sorted by namespace and name.
pub(super) async fn list<K: Namespaced>(cluster: &crate::apiclient::Cluster, scope: &ListScope) -> Result<Vec<K>> {
    let api: Api<K> = match (&scope.namespace, scope.all_namespaces) {
        (_, true) => Api::all(cluster.client.clone()),
        (Some(ns), _) => Api::namespaced(cluster.client.clone(), ns),
        (None, false) => Api::namespaced(cluster.client.clone(), &cluster.namespace),
    };
    let mut items = api
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing {}s on {} (are the CRDs installed?)", K::kind(&()), cluster.described))?;
    items.items.sort_by_key(|o| (o.namespace(), o.name_any()));
    Ok(items.items)
}

/// Prints a listing in the scope's format: `table(items, wide)` for the text forms, a
/// kubectl-style `List` for JSON and YAML.
pub(super) fn print_list<K: serde::Serialize>(
    items: &[K],
    scope: &ListScope,
    table: impl Fn(&[K], bool) -> String,
) -> Result<()> {
    match structured(scope.output, &list_value(items)?) {
        Some(text) => print!("{text}"),
        None => print!("{}", table(items, scope.output.wide())),
    }
    Ok(())
}

/// An object as JSON without `metadata.managedFields` (as kubectl prints it).
pub(super) fn object_value<K: serde::Serialize>(obj: &K) -> Result<Value> {
    let mut v = serde_json::to_value(obj)?;
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    Ok(v)
}

/// A kubectl-style `List` of objects.
pub(super) fn list_value<K: serde::Serialize>(items: &[K]) -> Result<Value> {
    let items: Vec<Value> = items.iter().map(object_value).collect::<Result<_>>()?;
    Ok(json!({"apiVersion": "v1", "kind": "List", "items": items}))
}
