//! Leader election through a Lease on the real API server: one leader at a time, failover
//! when the leader dies, and a leader that loses its Lease stops its work.

use dromos::leader::{LeaseConfig, campaign, release, run_while_leading, try_acquire};
use dromos_tests::{TestNamespace, client, wait_for};
use k8s_openapi::api::coordination::v1::Lease;
use std::time::Duration;

fn cfg(ns: &str, id: &str) -> LeaseConfig {
    LeaseConfig {
        namespace: ns.into(),
        name: "dromos-controller".into(),
        identity: id.into(),
        duration: Duration::from_secs(2),
        retry: Duration::from_millis(200),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time_failover_and_step_down() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "leader").await;
    let a = campaign(c.clone(), cfg(&ns.name, "a"));
    let mut a_watch = a.clone();
    wait_for("a leads", Duration::from_secs(10), || {
        let a = a.clone();
        async move { a.borrow().then_some(()) }
    })
    .await;
    let b = campaign(c.clone(), cfg(&ns.name, "b"));
    // While a renews, b never leads.
    for _ in 0..15 {
        assert!(*a.borrow() && !*b.borrow(), "a={} b={}", *a.borrow(), *b.borrow());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // a dies (its campaign stops when nobody listens); b takes over after the lease expires.
    drop(a);
    let _ = a_watch.changed().await;
    drop(a_watch);
    wait_for("b takes over", Duration::from_secs(10), || {
        let b = b.clone();
        async move { b.borrow().then_some(()) }
    })
    .await;
    let lease = ns.api::<Lease>().get("dromos-controller").await.unwrap().spec.unwrap();
    assert_eq!(lease.holder_identity.as_deref(), Some("b"));
    assert_eq!(lease.lease_transitions, Some(1));

    // Someone else takes the lease (e.g. b was partitioned): b's work stops.
    let work = tokio::spawn(run_while_leading(b.clone(), std::future::pending::<()>()));
    let api = ns.api::<Lease>();
    let mut l = api.get("dromos-controller").await.unwrap();
    if let Some(s) = l.spec.as_mut() {
        s.holder_identity = Some("intruder".into());
        s.lease_duration_seconds = Some(60);
        s.renew_time =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(k8s_openapi::jiff::Timestamp::now()));
    }
    api.replace("dromos-controller", &Default::default(), &l).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), work).await.expect("work stops").unwrap();
    assert!(r.unwrap_err().to_string().contains("lost leadership"));
    ns.delete().await;
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once() {
    let c = client().await;
    let ns = TestNamespace::new(&c, "release").await;
    let api = ns.api::<Lease>();
    let mut long = cfg(&ns.name, "a");
    long.duration = Duration::from_secs(3600);
    assert!(try_acquire(&api, &long).await.unwrap(), "a leads");
    let b = LeaseConfig { identity: "b".into(), ..long.clone() };
    assert!(!try_acquire(&api, &b).await.unwrap(), "b waits while a holds an hour-long lease");
    assert!(!release(&api, &b).await.unwrap(), "b cannot release a's lease");
    assert!(release(&api, &long).await.unwrap(), "a gives it up on shutdown");
    assert!(try_acquire(&api, &b).await.unwrap(), "b takes over without waiting for expiry");
    let lease = api.get("dromos-controller").await.unwrap().spec.unwrap();
    assert_eq!(lease.holder_identity.as_deref(), Some("b"));
    ns.delete().await;
}
