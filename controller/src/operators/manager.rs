//! The operator manager (I/O): builds the operators chosen in [`ManagerOptions`] and runs them
//! together. `dromos controller`, `dromos quickstart`, the tests and the benches all start
//! operators through it.
//!
//! Adding an operator: a file in `operators/` with `start(&Shared, Options) -> Started<Context>`,
//! an `Option<its Options>` field in [`ManagerOptions`], and one `add` line in
//! [`Manager::start`].

use super::{Shared, Started, apps, gitsource, jobs, notifier, packages, scheduler};
use futures::future::BoxFuture;
use kube::Client;
use std::any::Any;
use std::sync::Arc;

/// Which operators to run, each with its settings (`None`: not run).
#[derive(Clone, Debug, Default)]
pub struct ManagerOptions {
    /// Namespaces served (`Scope::All`: cluster mode).
    pub scope: crate::scope::Scope,
    /// GitSources: fetch, validate, sync.
    pub gitsource: Option<gitsource::Options>,
    /// Apps: render, deploy, status.
    pub apps: Option<apps::Options>,
    /// Jobs: schedules and runs.
    pub jobs: Option<jobs::Options>,
    /// Packages: render and install.
    pub packages: Option<packages::Options>,
    /// The Dromos scheduler and Offers.
    pub scheduler: Option<scheduler::Options>,
    /// Notifiers: Events to webhooks, chats and commit statuses.
    pub notifier: Option<notifier::Options>,
    /// `--default-service-account`, `--require-service-account`.
    pub identity: dromos_core::tenancy::IdentityRules,
}

/// Started operators: their contexts, and the futures that run them.
pub struct Manager {
    contexts: Vec<Arc<dyn Any + Send + Sync>>,
    observers: Vec<Arc<dyn super::Observe + Send + Sync>>,
    runs: Vec<(&'static str, BoxFuture<'static, ()>)>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.runs.iter().map(|r| r.0).collect();
        write!(f, "Manager({names:?})")
    }
}

impl Manager {
    /// Builds every operator `opts` names (nothing runs until [`Manager::run`] is polled).
    pub fn start(client: Client, opts: ManagerOptions) -> Self {
        let (policies, watch) = super::Tenancy::watch(&client);
        let tenancy = super::Tenancy::new(opts.identity.clone(), policies);
        let shared = Shared { client, scope: opts.scope.clone(), tenancy };
        let mut m = Manager { contexts: vec![], observers: vec![], runs: vec![] };
        if opts.gitsource.is_some() || opts.packages.is_some() {
            m.runs.push(("sourcepolicies", watch));
        }
        m.add("gitsource", opts.gitsource.map(|o| gitsource::start(&shared, o)));
        m.add("apps", opts.apps.map(|o| apps::start(&shared, o)));
        m.add("jobs", opts.jobs.map(|o| jobs::start(&shared, o)));
        m.add("packages", opts.packages.map(|o| packages::start(&shared, o)));
        m.add("scheduler", opts.scheduler.map(|o| scheduler::start(&shared, o)));
        m.add("notifier", opts.notifier.map(|o| notifier::start(&shared, o)));
        m
    }

    fn add<C: super::Observe + Send + Sync + 'static>(&mut self, name: &'static str, started: Option<Started<C>>) {
        if let Some(s) = started {
            self.observers.push(s.ctx.clone());
            self.contexts.push(s.ctx);
            self.runs.push((name, s.run));
        }
    }

    /// The context of a running operator, e.g. `m.context::<apps::Context>()` (counters and
    /// caches for tests, benches and the HTTP endpoints).
    pub fn context<C: Send + Sync + 'static>(&self) -> Option<Arc<C>> {
        self.contexts.iter().find_map(|c| c.clone().downcast::<C>().ok())
    }

    /// The object-state metrics of every running operator, read at scrape time.
    pub fn objects(&self) -> ObjectMetrics {
        ObjectMetrics(self.observers.clone())
    }

    /// Runs every operator until the future is dropped.
    pub async fn run(mut self) {
        self.runner().await
    }

    /// The future that runs every operator (taken out: the contexts stay readable).
    pub fn runner(&mut self) -> BoxFuture<'static, ()> {
        let runs = std::mem::take(&mut self.runs);
        Box::pin(async move {
            futures::future::join_all(runs.into_iter().map(|r| r.1)).await;
        })
    }
}

/// The object-state metrics of a [`Manager`]'s operators (`dromos_core::observe`).
#[derive(Clone, Default)]
pub struct ObjectMetrics(Vec<Arc<dyn super::Observe + Send + Sync>>);

impl std::fmt::Debug for ObjectMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectMetrics({})", self.0.len())
    }
}

impl ObjectMetrics {
    /// Whether every operator's watch of its own kind has listed (vacuously true without
    /// operators).
    pub fn synced(&self) -> bool {
        self.0.iter().all(|o| o.synced())
    }

    /// OpenMetrics text of every operator's objects at `now` (no `# EOF`).
    pub fn encode(&self, now: dromos_core::time::Instant) -> String {
        let mut samples = vec![];
        for o in &self.0 {
            o.observe(now, &mut samples);
        }
        dromos_core::observe::encode(&samples)
    }
}

/// Checks that the Dromos CRDs are installed; says how to install them when not.
pub async fn check_crds(client: &Client) -> anyhow::Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(client.clone());
    for crd in dromos_crds::crds() {
        let name = crd.metadata.name.unwrap_or_default();
        if api.get_opt(&name).await?.is_none() {
            anyhow::bail!(
                "CRD {name} is not installed; install the CRDs with `kubectl apply --server-side -f crds/` (or the Helm chart)"
            );
        }
    }
    Ok(())
}
