//! Offers (I/O): one `Offer` per node, written only when its spec changed and at most once per
//! node per interval; Offers of nodes that are gone are deleted.

use super::*;

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `Offer` spec of a node offer.
pub fn offer_spec(o: &NodeOffer) -> OfferSpec {
    let res = |r: &Resources, ports: &[(u16, u16)]| OfferResources {
        cpus: round3(r.cpus),
        mem: round3(r.mem),
        disk: round3(r.disk),
        gpus: r.gpus.floor() as i64,
        ports: ports.iter().map(|(b, e)| PortRange { begin: *b as i32, end: *e as i32 }).collect(),
    };
    let mut attributes = o.attributes.clone();
    attributes.insert("hostname".into(), o.hostname.clone());
    OfferSpec {
        node_name: o.node.clone(),
        total: res(&o.total, &[]),
        free: res(&o.free, &o.free_ports),
        attributes,
        region: o.region.clone(),
        zone: o.zone.clone(),
        roles: if o.roles.is_empty() { vec!["*".into()] } else { o.roles.clone() },
        unschedulable: (!o.schedulable).then_some(true),
    }
}

pub(super) fn selector_matches(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector.split(',').map(str::trim).filter(|s| !s.is_empty()).all(|term| match term.split_once('=') {
        Some((k, v)) => {
            (labels.get(k.trim_end_matches('!').trim()).map(String::as_str) == Some(v.trim())) != k.ends_with('!')
        }
        None => match term.strip_prefix('!') {
            Some(k) => !labels.contains_key(k),
            None => labels.contains_key(term),
        },
    })
}

/// Publishes offers: one Offer per node, applied only when its spec changed and at most once
/// per node per `offer_interval`; Offers of nodes that are gone are deleted.
pub(super) async fn offer_loop(ctx: Arc<Context>) {
    if !ctx.opts.offers {
        return;
    }
    super::super::store_ready(&ctx.nodes).await;
    super::super::store_ready(&ctx.pods).await;
    super::super::store_ready(&ctx.offers).await;
    let api: Api<Offer> = Api::all(ctx.client.clone());
    let tick = Duration::from_secs(1).min(ctx.opts.offer_interval);
    let heartbeat = crate::watchdog::heartbeat("the offer loop");
    loop {
        heartbeat.beat();
        super::super::one_pass("offers", publish_offers(&ctx, &api)).await;
        tokio::time::sleep(tick).await;
    }
}

async fn publish_offers(ctx: &Context, api: &Api<Offer>) {
    let nodes: Vec<Arc<Node>> = ctx
        .nodes
        .state()
        .into_iter()
        .filter(|n| ctx.opts.offer_nodes.as_deref().is_none_or(|s| selector_matches(s, n.labels())))
        .collect();
    let known = placement::known_nodes_from_nodes(&nodes, &ctx.pods.state());
    let names: HashSet<&str> = known.iter().map(|o| o.node.as_str()).collect();
    for o in &known {
        let spec = offer_spec(o);
        let live = ctx.offers.get(&ObjectRef::new(&o.node));
        if live.as_ref().is_some_and(|l| l.spec == spec) {
            continue;
        }
        let due = ctx
            .offer_written
            .lock()
            .expect("offer lock")
            .get(&o.node)
            .is_none_or(|t| t.elapsed() >= ctx.opts.offer_interval);
        if !due {
            continue;
        }
        let body = json!({
            "apiVersion": "dromos.io/v1alpha1", "kind": "Offer",
            "metadata": {"name": o.node, "labels": {
                OFFER_SCOPE_LABEL: ctx.opts.offer_scope, translate::MANAGED_BY.0: translate::MANAGED_BY.1
            }},
            "spec": spec
        });
        ctx.offer_writes.fetch_add(1, Ordering::Relaxed);
        ctx.offer_written.lock().expect("offer lock").insert(o.node.clone(), Instant::now());
        if let Err(e) = api.patch(&o.node, &PatchParams::apply(OFFER_MANAGER).force(), &Patch::Apply(body)).await {
            tracing::warn!(node = %o.node, "publishing offer: {e}");
        }
    }
    for live in ctx.offers.state() {
        let name = live.name_any();
        if !names.contains(name.as_str()) && live.metadata.deletion_timestamp.is_none() {
            ctx.offer_deletes.fetch_add(1, Ordering::Relaxed);
            ctx.offer_written.lock().expect("offer lock").remove(&name);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => tracing::warn!(offer = %name, "deleting offer: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors_of_offer_nodes() {
        let labels = BTreeMap::from([("pool".to_string(), "a".to_string()), ("rack".to_string(), "r1".to_string())]);
        assert!(selector_matches("pool=a", &labels));
        assert!(selector_matches("pool=a,rack", &labels));
        assert!(!selector_matches("pool=b", &labels));
        assert!(selector_matches("pool!=b", &labels));
        assert!(!selector_matches("!rack", &labels));
        assert!(selector_matches("", &labels));
    }
}
