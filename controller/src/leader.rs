//! Leader election through a coordination.k8s.io Lease (I/O), so two replicas never both write.
//!
//! A candidate takes the Lease when it is released, or when the record it holds has not
//! changed for the lease duration of this process's own monotonic time
//! ([`dromos_core::lease::judge`]: another host's clock is never compared with ours). It
//! renews while it leads; every write carries the Lease's resourceVersion, so two candidates
//! racing for it cannot both win. Every request has a deadline, and a leader that has not
//! renewed within its renew deadline (two thirds of the duration) steps down, even while a
//! request hangs, before anyone else may take over.

use dromos_core::lease::{Observed, Verdict, judge, renew_deadline, still_leading};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Election settings.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// This candidate's identity (pod name).
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub duration: Duration,
    /// How often the leader renews and followers retry.
    pub retry: Duration,
}

/// One attempt to take or renew the Lease, for a candidate with no memory of earlier reads:
/// it takes only a released or absent Lease (a held one may be taken by [`campaign`], which
/// observes it for a lease duration first). Returns whether this candidate leads now.
pub async fn try_acquire(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    attempt(api, cfg, &mut None).await
}

/// One attempt with the follower's memory `observed`.
async fn attempt(api: &Api<Lease>, cfg: &LeaseConfig, observed: &mut Option<Observed>) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let spec = |transitions: i32, acquire: Option<MicroTime>| LeaseSpec {
        holder_identity: Some(cfg.identity.clone()),
        lease_duration_seconds: Some(cfg.duration.as_secs().max(1) as i32),
        acquire_time: acquire.or(Some(MicroTime(now))),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..Default::default()
    };
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta { name: Some(cfg.name.clone()), ..Default::default() },
            spec: Some(spec(0, None)),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let current = lease.spec.clone().unwrap_or_default();
    let record = lease.metadata.resource_version.clone().unwrap_or_default();
    // The holder's duration, bounded: a Lease naming years must not keep a dead holder forever.
    let duration = Duration::from_secs(current.lease_duration_seconds.unwrap_or(1).clamp(1, 3600) as u64);
    let transitions = current.lease_transitions.unwrap_or(0);
    let new_spec =
        match judge(&cfg.identity, current.holder_identity.as_deref(), &record, duration, observed, Instant::now()) {
            Verdict::Renew => spec(transitions, current.acquire_time.clone()),
            Verdict::Take => spec(transitions + 1, None),
            Verdict::Wait => return Ok(false),
        };
    lease.spec = Some(new_spec);
    // replace carries the resourceVersion read above: a concurrent writer makes this fail.
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the Lease up if this candidate holds it (on shutdown), so another replica takes over
/// at once instead of after the lease duration.
pub async fn release(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    let Some(mut lease) = api.get_opt(&cfg.name).await? else { return Ok(false) };
    let Some(spec) = lease.spec.as_mut().filter(|s| s.holder_identity.as_deref() == Some(cfg.identity.as_str())) else {
        return Ok(false);
    };
    spec.holder_identity = None;
    spec.renew_time = None;
    // replace carries the resourceVersion read above: a concurrent taker makes this fail.
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Campaigns forever; the receiver reads true while this candidate leads. Each attempt has
/// the renew deadline as its timeout, so a hanging request cannot keep a leader leading.
pub fn campaign(client: Client, cfg: LeaseConfig) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
        let mut last_renew: Option<Instant> = None;
        let mut observed: Option<Observed> = None;
        let deadline = renew_deadline(cfg.duration).max(Duration::from_millis(100));
        loop {
            let result = tokio::time::timeout(deadline, attempt(&api, &cfg, &mut observed)).await;
            let leading = match result {
                Ok(Ok(true)) => {
                    last_renew = Some(Instant::now());
                    true
                }
                Ok(Ok(false)) => false,
                // Keep leading through a short API outage, but step down at the renew deadline.
                Ok(Err(e)) => {
                    tracing::warn!("lease {}/{}: {e}", cfg.namespace, cfg.name);
                    still_leading(last_renew, cfg.duration, Instant::now())
                }
                Err(_) => {
                    tracing::warn!("lease {}/{}: no answer within {deadline:?}", cfg.namespace, cfg.name);
                    still_leading(last_renew, cfg.duration, Instant::now())
                }
            };
            if !leading {
                last_renew = None;
            }
            if tx.send(leading).is_err() {
                return;
            }
            tokio::time::sleep(cfg.retry).await;
        }
    });
    rx
}

/// Runs `work` only while leading: waits for leadership, runs, and stops the work as soon as
/// leadership is lost (the caller then exits, so a fresh process campaigns again).
pub async fn run_while_leading<F>(mut leading: watch::Receiver<bool>, work: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = ()>,
{
    while !*leading.borrow() {
        leading.changed().await?;
    }
    tracing::info!("acquired leadership");
    tokio::select! {
        _ = work => Ok(()),
        _ = async {
            while *leading.borrow() {
                if leading.changed().await.is_err() {
                    break;
                }
            }
        } => {
            anyhow::bail!("lost leadership; stopping so that only one replica writes")
        }
    }
}
