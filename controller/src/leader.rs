//! Leader election through a coordination.k8s.io Lease (I/O), so two replicas never both write.
//!
//! A candidate takes the Lease when it is absent or expired (renew time + duration in the
//! past) and renews it while it leads; every write uses the Lease's resourceVersion, so two
//! candidates racing for it cannot both win. A leader that cannot renew for two thirds of the
//! duration steps down before anyone else may take over.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};
use std::time::Duration;
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

/// One attempt to take or renew the Lease; returns whether this candidate leads now.
pub async fn try_acquire(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
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
    let holder = current.holder_identity.clone().unwrap_or_default();
    let expired = match (&current.renew_time, current.lease_duration_seconds) {
        (Some(MicroTime(t)), Some(d)) => {
            t.checked_add(SignedDuration::from_secs(i64::from(d))).map(|end| end < now).unwrap_or(true)
        }
        _ => true,
    };
    let transitions = current.lease_transitions.unwrap_or(0);
    let new_spec = if holder == cfg.identity {
        spec(transitions, current.acquire_time.clone())
    } else if expired || holder.is_empty() {
        spec(transitions + 1, None)
    } else {
        return Ok(false);
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

/// Campaigns forever; the receiver reads true while this candidate leads.
pub fn campaign(client: Client, cfg: LeaseConfig) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
        let mut last_renew: Option<std::time::Instant> = None;
        loop {
            let leading = match try_acquire(&api, &cfg).await {
                Ok(true) => {
                    last_renew = Some(std::time::Instant::now());
                    true
                }
                Ok(false) => false,
                // Keep leading through a short API outage, but step down well before expiry.
                Err(e) => {
                    tracing::warn!("lease {}/{}: {e}", cfg.namespace, cfg.name);
                    last_renew.is_some_and(|t| t.elapsed() < cfg.duration * 2 / 3)
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
