//! Validation of the relations between objects (pure): App dependencies and Job
//! parents/dependencies resolve, and neither graph has a cycle.

use crate::app::{Catalog, absolute_id};
use crate::diag::Diagnostic;
use crate::ids;
use crate::load::{Manifest, Typed};
use dromos_crds::job::Job;
use std::collections::BTreeMap;

/// Reports dependencies that resolve to no App and dependency cycles (with the whole path).
pub(super) fn validate_app_graph(manifests: &[Manifest], out: &mut Vec<Diagnostic>) {
    let catalog = Catalog::of(manifests);
    let apps = &catalog.entries;
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); apps.len()];
    for (i, e) in apps.iter().enumerate() {
        let m = e.manifest;
        for (j, (dep, segs)) in e.model.app.spec.dependencies.iter().zip(e.model.dependency_ids()).enumerate() {
            let Ok(segs) = segs else { continue };
            match catalog.resolve(&segs) {
                Some(t) => edges[i].push((t, j)),
                None => {
                    let abs = absolute_id(&segs);
                    let known: Vec<&str> = apps.iter().map(|a| a.id.as_str()).collect();
                    let mut d = m.error(
                        "unknown-dependency",
                        &format!("spec.dependencies[{j}]"),
                        format!("dependency `{dep}` (resolved to `{abs}`) is not an App in this repository"),
                    );
                    if let Some(c) = crate::diag::closest(&abs, known.iter().copied()) {
                        d = d.with_hint(format!("did you mean `{c}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
    for cycle in find_cycles(&edges) {
        let m = apps[cycle[0].0].manifest;
        let path: Vec<String> = cycle
            .iter()
            .map(|(n, _)| apps[*n].id.clone())
            .chain(std::iter::once(apps[cycle[0].0].id.clone()))
            .collect();
        out.push(m.error(
            "dependency-cycle",
            &format!("spec.dependencies[{}]", cycle[0].1),
            format!("dependency cycle: {}", path.join(" -> ")),
        ));
    }
}

/// Reports unknown parents/dependencies of Jobs and cycles in the job graph.
pub(super) fn validate_job_graph(manifests: &[Manifest], out: &mut Vec<Diagnostic>) {
    let jobs: Vec<(&Manifest, &Job)> = manifests
        .iter()
        .filter_map(|m| match &m.typed {
            Typed::Job(j) => Some((m, j.as_ref())),
            _ => None,
        })
        .collect();
    let mut by_key: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, (m, j)) in jobs.iter().enumerate() {
        let ns = m.namespace.clone().unwrap_or_default();
        by_key.insert((ns.clone(), m.name.clone()), i);
        if let Some(id) = &j.spec.id {
            by_key.insert((ns, id.clone()), i);
        }
    }
    let resolve = |m: &Manifest, r: &str| -> Option<usize> {
        let ns = m.namespace.clone().unwrap_or_default();
        if let Some(&i) = by_key.get(&(ns, r.to_string())) {
            return Some(i);
        }
        let segs = ids::parse_job_id(r).ok()?;
        let loc = ids::location_of(&segs);
        let ns = loc.namespace.or(m.namespace.clone()).unwrap_or_default();
        by_key.get(&(ns, loc.name)).copied()
    };
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); jobs.len()];
    for (i, (m, j)) in jobs.iter().enumerate() {
        let refs = j
            .spec
            .parents
            .iter()
            .map(|p| ("parents", p.as_str()))
            .chain(j.spec.dependencies.iter().map(|d| ("dependencies", d.id.as_str())));
        let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
        for (field, r) in refs {
            let k = counters.entry(field).or_default();
            let idx = *k;
            *k += 1;
            let path = if field == "parents" {
                format!("spec.parents[{idx}]")
            } else {
                format!("spec.dependencies[{idx}].id")
            };
            match resolve(m, r) {
                Some(t) if t == i => {
                    out.push(m.error("dependency-cycle", &path, format!("job `{}` depends on itself", m.name)))
                }
                Some(t) => edges[i].push((t, idx)),
                None => {
                    let mut d = m.error(
                        "unknown-dependency",
                        &path,
                        format!(
                            "`{r}` is not a Job in namespace `{}` of this repository",
                            m.namespace.as_deref().unwrap_or("")
                        ),
                    );
                    let known: Vec<&str> =
                        jobs.iter().filter(|(o, _)| o.namespace == m.namespace).map(|(o, _)| o.name.as_str()).collect();
                    if let Some(c) = crate::diag::closest(r, known.iter().copied()) {
                        d = d.with_hint(format!("did you mean `{c}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
    for cycle in find_cycles(&edges) {
        let (m, _) = jobs[cycle[0].0];
        let name = |i: usize| format!("{}/{}", jobs[i].0.namespace.as_deref().unwrap_or(""), jobs[i].0.name);
        let path: Vec<String> = cycle.iter().map(|(n, _)| name(*n)).chain(std::iter::once(name(cycle[0].0))).collect();
        let field = if jobs[cycle[0].0].1.spec.parents.is_empty() {
            format!("spec.dependencies[{}].id", cycle[0].1)
        } else {
            format!("spec.parents[{}]", cycle[0].1)
        };
        out.push(m.error("dependency-cycle", &field, format!("job dependency cycle: {}", path.join(" -> "))));
    }
}

/// Finds elementary cycles reachable by DFS, one per strongly connected back edge, each as
/// (node, edge index into that node's list) starting from its smallest node. Deterministic.
fn find_cycles(edges: &[Vec<(usize, usize)>]) -> Vec<Vec<(usize, usize)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Active,
        Done,
    }
    let mut state = vec![State::New; edges.len()];
    let mut cycles: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut stack: Vec<(usize, usize)> = Vec::new();
    fn dfs(
        n: usize,
        edges: &[Vec<(usize, usize)>],
        state: &mut [State],
        stack: &mut Vec<(usize, usize)>,
        cycles: &mut Vec<Vec<(usize, usize)>>,
    ) {
        state[n] = State::Active;
        for &(t, e) in &edges[n] {
            stack.push((n, e));
            match state[t] {
                State::New => dfs(t, edges, state, stack, cycles),
                State::Active => {
                    let start = stack.iter().position(|(s, _)| *s == t).unwrap_or(0);
                    let mut cyc: Vec<(usize, usize)> = stack[start..].to_vec();
                    let min = cyc.iter().enumerate().min_by_key(|(_, (n, _))| *n).map(|(i, _)| i).unwrap_or(0);
                    cyc.rotate_left(min);
                    if !cycles.contains(&cyc) {
                        cycles.push(cyc);
                    }
                }
                State::Done => {}
            }
            stack.pop();
        }
        state[n] = State::Done;
    }
    for n in 0..edges.len() {
        if state[n] == State::New {
            dfs(n, edges, &mut state, &mut stack, &mut cycles);
        }
    }
    cycles
}
