//! Scale-down order (pure): which instances die first.
//!
//! Order of preference for the next victim, re-evaluated after each pick:
//! 1. an instance on a value that holds more instances than UNIQUE (1) or MAX_PER n allow
//!    (possible after a constraint change or a node relabel);
//! 2. Marathon's GROUP_BY balancing (`selectInstancesToKill`): candidates from the most
//!    uneven GROUP_BY constraint first, taken from its largest groups, and a candidate is taken
//!    only if every GROUP_BY distribution stays within a difference of 1 or becomes more even
//!    than before the scale-down started;
//! 3. `killSelection`: YOUNGEST_FIRST (latest start first, Marathon's default) or
//!    OLDEST_FIRST; ties by pod name.
//!
//! An instance whose node is unknown, or lacks the field, is in the group "no value", as in
//! Marathon.

use super::Offers;
use super::eval::{field_key, read_field};
use crate::constraints::{Constraint, Operator};
use dromos_crds::app::KillSelection;
use std::collections::HashMap;

struct Dist {
    /// Group index of each instance.
    group: Vec<usize>,
    /// Live size of each group.
    size: Vec<usize>,
    initial_diff: usize,
}

impl Dist {
    fn diff(&self) -> usize {
        let max = self.size.iter().max().copied().unwrap_or(0);
        let min = self.size.iter().min().copied().unwrap_or(0);
        max - min
    }

    fn diff_without(&self, i: usize) -> usize {
        let g = self.group[i];
        let mut max = 0;
        let mut min = usize::MAX;
        for (k, &s) in self.size.iter().enumerate() {
            let s = if k == g { s - 1 } else { s };
            max = max.max(s);
            min = min.min(s);
        }
        max - min
    }

    fn more_even_without(&self, i: usize) -> bool {
        let after = self.diff_without(i);
        after <= 1 || self.initial_diff > after
    }
}

/// Orders instances `(pod, node, start time in unix seconds)` for scale-down: the first pod
/// returned dies first. Every pod is returned once.
pub fn kill_order(
    instances: &[(String, String, i64)],
    offers: &Offers,
    constraints: &[Constraint],
    kill_selection: KillSelection,
) -> Vec<String> {
    let n = instances.len();
    let values = |c: &Constraint| -> Vec<Option<String>> {
        let key = field_key(c);
        instances.iter().map(|(_, node, _)| offers.get(node).and_then(|o| read_field(o, &key))).collect()
    };
    let group_ids = |vals: &[Option<String>]| -> (Vec<usize>, Vec<usize>) {
        let mut ids: HashMap<&Option<String>, usize> = HashMap::new();
        let mut size = Vec::new();
        let group = vals
            .iter()
            .map(|v| {
                let next = ids.len();
                let g = *ids.entry(v).or_insert(next);
                if g == size.len() {
                    size.push(0);
                }
                size[g] += 1;
                g
            })
            .collect();
        (group, size)
    };
    // (groups, live sizes, limit) of UNIQUE and MAX_PER; values missing never count as over.
    let mut limits: Vec<(Vec<Option<usize>>, Vec<usize>, usize)> = Vec::new();
    let mut dists: Vec<Dist> = Vec::new();
    for c in constraints {
        match c.op {
            Operator::Unique | Operator::MaxPer => {
                let vals = values(c);
                let (group, size) = group_ids(&vals);
                let group = group.into_iter().zip(&vals).map(|(g, v)| v.as_ref().map(|_| g)).collect();
                let limit = if c.op == Operator::Unique { 1 } else { c.count.unwrap_or(1) as usize };
                limits.push((group, size, limit));
            }
            Operator::GroupBy => {
                let (group, size) = group_ids(&values(c));
                let mut d = Dist { group, size, initial_diff: 0 };
                d.initial_diff = d.diff();
                dists.push(d);
            }
            _ => {}
        }
    }

    // Kill-selection rank: lower dies first.
    let mut by_selection: Vec<usize> = (0..n).collect();
    by_selection.sort_by(|&a, &b| {
        let (ta, tb) = (instances[a].2, instances[b].2);
        let t = match kill_selection {
            KillSelection::YoungestFirst => tb.cmp(&ta),
            KillSelection::OldestFirst => ta.cmp(&tb),
        };
        t.then_with(|| instances[a].0.cmp(&instances[b].0))
    });

    let mut alive = vec![true; n];
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        let live = || by_selection.iter().copied().filter(|&i| alive[i]);
        let over = live().find(|&i| limits.iter().any(|(g, size, limit)| g[i].is_some_and(|g| size[g] > *limit)));
        let pick = over.or_else(|| {
            let mut ranked: Vec<&Dist> = dists.iter().collect();
            ranked.sort_by_key(|d| std::cmp::Reverse(d.diff()));
            let acceptable = |i: usize| dists.iter().all(|d| d.more_even_without(i));
            ranked
                .iter()
                .filter(|d| d.diff() > 0)
                .flat_map(|d| {
                    let max = d.size.iter().max().copied().unwrap_or(0);
                    live().filter(move |&i| d.size[d.group[i]] == max)
                })
                .chain(live())
                .find(|&i| acceptable(i))
        });
        let i = pick.or_else(|| live().next()).expect("one instance is alive per remaining step");
        alive[i] = false;
        for d in &mut dists {
            d.size[d.group[i]] -= 1;
        }
        for (g, size, _) in &mut limits {
            if let Some(g) = g[i] {
                size[g] -= 1;
            }
        }
        order.push(instances[i].0.clone());
    }
    order
}
