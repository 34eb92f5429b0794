//! Cluster mode against real `nats-server` processes: the shared store suite (`store_suite`) on
//! three cluster backends, then what only a cluster has: appends through the leader, forwarding,
//! replicas that converge byte for byte, catch-up of an empty folder, a stream leader killed
//! mid-run, and an unreachable cluster at open.

mod common;
#[macro_use]
mod store_suite;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anquan::store::*;
use common::nats::NatsCluster;
use common::*;

/// A tenant no other test of this process uses.
fn new_tenant() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("suite{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The suite's store is node `a` of its own tenant on its own servers (killed when the test
/// ends): `servers` servers, the stream with as many replicas. Node `a` is the only node, so it
/// holds the lease and its writer commits.
struct Leader {
    nats: NatsCluster,
    tenant: String,
}

impl Leader {
    fn new(servers: usize) -> Self {
        Self { nats: NatsCluster::start(servers), tenant: new_tenant() }
    }
}

impl store_suite::Backend for Leader {
    fn try_open(&self, dir: &Path, options: StoreOptions) -> Result<EventStore, StoreError> {
        let replicas = self.nats.urls().len();
        EventStore::open_dir(dir, in_cluster(options, &self.nats, &self.tenant, "a", replicas))
    }
}

/// The suite's store is node `b`, which does not hold the lease: another node, `lead`, opened
/// first in a folder of the backend's own with the test's options (so the test's clock stamps
/// recorded-at), commits, and `b` forwards every append to it and answers once its own replica
/// shows the commit.
struct Forwarding {
    // Fields drop in order: the leading node closes before its server is killed.
    lead: Mutex<Option<EventStore>>,
    lead_dir: tempfile::TempDir,
    nats: NatsCluster,
    tenant: String,
}

impl Forwarding {
    fn new() -> Self {
        Self {
            lead: Mutex::new(None),
            lead_dir: tempfile::tempdir().unwrap(),
            nats: NatsCluster::start(1),
            tenant: new_tenant(),
        }
    }
}

impl store_suite::Backend for Forwarding {
    fn try_open(&self, dir: &Path, options: StoreOptions) -> Result<EventStore, StoreError> {
        let mut lead = self.lead.lock().unwrap();
        if lead.is_none() {
            let own = StoreOptions { create_if_missing: true, ..options.clone() };
            let store = open_node(self.lead_dir.path(), in_cluster(own, &self.nats, &self.tenant, "lead", 1));
            assert!(store.is_cluster_leader(), "the first node of a tenant takes the lease");
            *lead = Some(store);
        }
        let store = EventStore::open_dir(dir, in_cluster(options, &self.nats, &self.tenant, "b", 1))?;
        assert_eq!(store.cluster_leader().as_deref(), Some("lead"));
        Ok(store)
    }
}

/// The suite on one server (R1).
mod one_server {
    store_suite!(basics, super::Leader::new(1));
    store_suite!(subscriptions, super::Leader::new(1));
}

/// The suite on three servers (R3).
mod three_servers {
    store_suite!(basics, super::Leader::new(3));
    store_suite!(subscriptions, super::Leader::new(3));
}

/// The suite on a node whose appends are forwarded to the leading node.
mod forwarded {
    store_suite!(basics, super::Forwarding::new());
    store_suite!(subscriptions, super::Forwarding::new());
}

fn cluster_options(cluster: &NatsCluster, tenant: &str, node: &str, replicas: usize) -> StoreOptions {
    in_cluster(StoreOptions::default(), cluster, tenant, node, replicas)
}

/// `options` with cluster mode on `cluster`, as `node` of `tenant`.
fn in_cluster(options: StoreOptions, cluster: &NatsCluster, tenant: &str, node: &str, replicas: usize) -> StoreOptions {
    let mut c = ClusterOptions::new(cluster.urls(), tenant, node);
    c.replicas = replicas;
    c.connect_timeout = Duration::from_secs(15);
    StoreOptions { cluster: Some(c), ..options }
}

fn open_node(dir: &std::path::Path, options: StoreOptions) -> EventStore {
    EventStore::open_dir(dir, options).unwrap()
}

/// Waits until `store`'s head reaches `next_position` (another node's commits arrive through
/// its follower).
fn wait_for_head(store: &EventStore, next_position: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.head().next_position < next_position {
        assert!(Instant::now() < deadline, "replica stuck at {} of {next_position}", store.head().next_position);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until one of `stores` holds the lease and every store has seen it.
fn wait_for_leader(stores: &[&EventStore]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let leaders: Vec<Option<String>> = stores.iter().map(|s| s.cluster_leader()).collect();
        if let Some(Some(first)) = leaders.first() {
            if leaders.iter().all(|l| l.as_deref() == Some(first)) {
                return first.clone();
            }
        }
        assert!(Instant::now() < deadline, "no agreed leader: {leaders:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn all_events(store: &EventStore) -> Vec<RecordedEvent> {
    store.read_all(0, Direction::Forward, usize::MAX).unwrap()
}

#[test]
fn one_server_commits_checks_versions_answers_retries_and_feeds_subscribers() {
    let nats = NatsCluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let store = open_node(dir.path(), cluster_options(&nats, "solo", "a", 1));
    assert!(store.is_cluster_leader());
    let mut subscription = store.subscribe(0);

    let first = events(3);
    let a = store.append("hazard-1", ExpectedVersion::NoStream, first.clone()).unwrap();
    assert_eq!(a.positions, vec![0, 1, 2]);
    let b = store.append("hazard-2", ExpectedVersion::Any, events(2)).unwrap();
    assert_eq!(b.positions, vec![3, 4]);

    let stale = store.append("hazard-1", ExpectedVersion::Exact(0), events(1)).unwrap_err();
    assert!(stale.is_conflict(), "{stale}");
    let retry = store.append("hazard-1", ExpectedVersion::NoStream, first).unwrap();
    assert!(retry.already_committed);
    assert_eq!(retry.positions, vec![0, 1, 2]);
    assert_eq!(store.head().next_position, 5);

    let mut seen = Vec::new();
    while seen.len() < 5 {
        let e = subscription.next_timeout(Duration::from_secs(10)).unwrap().unwrap();
        seen.push(e.position);
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, 5);
    drop(subscription);
    drop(store);

    // The cluster holds the log: a node on an empty folder gets the same bytes.
    let other = tempfile::tempdir().unwrap();
    let copy = open_node(other.path(), cluster_options(&nats, "solo", "b", 1));
    assert_eq!(copy.head().next_position, 5);
    let reopened = open_node(dir.path(), cluster_options(&nats, "solo", "a", 1));
    assert_eq!(copy.head().hash, reopened.head().hash);
    assert_eq!(all_events(&copy), all_events(&reopened));
}

#[test]
fn two_nodes_on_three_servers_take_appends_on_both_and_converge() {
    let nats = NatsCluster::start(3);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open_node(dir_a.path(), cluster_options(&nats, "city", "a", 3));
    let b = open_node(dir_b.path(), cluster_options(&nats, "city", "b", 3));
    let leader = wait_for_leader(&[&a, &b]);
    assert!(leader == "a" || leader == "b");

    // Both nodes take appends at once; the one without the lease forwards them.
    std::thread::scope(|s| {
        for (node, store) in [("a", &a), ("b", &b)] {
            s.spawn(move || {
                for i in 0..40 {
                    let stream = format!("{node}-{}", i % 4);
                    let out = store.append(&stream, ExpectedVersion::Any, events(2)).unwrap();
                    // Read-your-writes on the node that was asked.
                    let back =
                        store.read_stream(&stream, out.streams[0].first_version, Direction::Forward, 10).unwrap();
                    assert_eq!(back.len(), 2, "node {node} does not show its own append");
                }
            });
        }
    });
    let expected_versions = store_versions_checked(&a, &b);
    assert_eq!(expected_versions, 160);

    // A stale expected version is refused on the node that forwards, too.
    let follower = if leader == "a" { &b } else { &a };
    let err = follower.append("a-0", ExpectedVersion::Exact(0), events(1)).unwrap_err();
    assert!(err.is_conflict(), "{err}");

    // A node started on an empty folder catches up and verifies.
    let dir_c = tempfile::tempdir().unwrap();
    let c = open_node(dir_c.path(), cluster_options(&nats, "city", "c", 3));
    assert_eq!(c.head(), a.head());
    assert!(c.verify().unwrap().is_ok());
    assert_eq!(all_events(&c), all_events(&a));
}

/// Waits until both replicas hold the same log, checks it is gapless with each stream's
/// versions gapless, and returns its length.
fn store_versions_checked(a: &EventStore, b: &EventStore) -> u64 {
    let end = a.head().next_position.max(b.head().next_position);
    wait_for_head(a, end);
    wait_for_head(b, end);
    assert_eq!(a.head(), b.head());
    let log = all_events(a);
    assert_eq!(log, all_events(b));
    assert_eq!(log.iter().map(|e| e.position).collect::<Vec<_>>(), (0..end).collect::<Vec<_>>());
    let mut next: std::collections::HashMap<&str, u64> = Default::default();
    for e in &log {
        let v = next.entry(&e.stream).or_default();
        assert_eq!(e.version, *v, "stream {} has a gap", e.stream);
        *v += 1;
    }
    for store in [a, b] {
        assert!(store.verify().unwrap().is_ok());
    }
    end
}

#[test]
fn acknowledged_appends_survive_the_stream_leader_killed_mid_run_exactly_once() {
    let mut nats = NatsCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let store = open_node(dir.path(), cluster_options(&nats, "failover", "a", 3));
    let mut acknowledged = Vec::new();
    let mut killed = None;
    for i in 0..60 {
        if i == 20 {
            let leader = nats.stream_leader("anquan_failover").expect("the stream has a leader");
            nats.kill(leader);
            killed = Some(leader);
        }
        let proposed = events(1);
        let id = proposed[0].event_id;
        match store.append(&format!("s-{}", i % 5), ExpectedVersion::Any, proposed) {
            Ok(_) => acknowledged.push(id),
            Err(e) => panic!("append {i} failed after the stream leader's kill: {e}"),
        }
    }
    nats.restart(killed.unwrap());
    let log = all_events(&store);
    assert_eq!(log.iter().map(|e| e.position).collect::<Vec<_>>(), (0..log.len() as u64).collect::<Vec<_>>());
    let ids: Vec<_> = log.iter().map(|e| e.event_id).collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event is stored twice");
    for id in &acknowledged {
        assert!(unique.contains(id), "acknowledged event {id} is missing");
    }
    assert_eq!(log.len(), acknowledged.len());
    drop(store);

    // The cluster's copy agrees: a fresh replica rebuilds the same log.
    let fresh = tempfile::tempdir().unwrap();
    let copy = open_node(fresh.path(), cluster_options(&nats, "failover", "b", 3));
    assert_eq!(all_events(&copy), log);
    assert!(copy.verify().unwrap().is_ok());
}

#[test]
fn an_unreachable_cluster_refuses_the_open_and_writes_nothing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("node");
    let mut c = ClusterOptions::new(vec![format!("nats://127.0.0.1:{port}")], "t", "a");
    c.connect_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = EventStore::open_dir(&folder, StoreOptions { cluster: Some(c), ..StoreOptions::default() }).unwrap_err();
    assert!(matches!(err, StoreError::Cluster { .. }), "{err}");
    assert!(err.to_string().contains("cannot be reached"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!folder.exists(), "the open created the folder");
}

#[test]
fn a_message_in_the_log_that_is_not_a_commit_is_skipped_never_applied() {
    let nats = NatsCluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let options = cluster_options(&nats, "hostile", "a", 1);
    let store = open_node(dir.path(), options.clone());
    store.append("s", ExpectedVersion::NoStream, events(2)).unwrap();

    // Another client writes garbage on the log's subject, fenced like a commit.
    let mut other = options.cluster.clone().unwrap();
    other.node = "intruder".into();
    let intruder = Cluster::connect(other).unwrap();
    let last = intruder.last_sequence().unwrap();
    assert_eq!(intruder.publish(b"ANQCMT01 but nothing after".to_vec(), last, "garbage").unwrap(), last + 1);

    // The store skips it and goes on committing after it.
    let out = store.append("s", ExpectedVersion::Exact(1), events(1)).unwrap();
    assert_eq!(out.positions, vec![2]);
    assert!(store.verify().unwrap().is_ok());
    let head = store.head();
    drop(store);

    // So does a replica built from the log.
    let fresh = tempfile::tempdir().unwrap();
    let copy = open_node(fresh.path(), cluster_options(&nats, "hostile", "b", 1));
    assert_eq!(copy.head(), head);
    assert!(copy.verify().unwrap().is_ok());
}

#[test]
fn appends_fail_clearly_while_the_cluster_is_down_and_resume_when_it_returns() {
    let mut nats = NatsCluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let mut options = cluster_options(&nats, "outage", "a", 1);
    if let Some(c) = options.cluster.as_mut() {
        c.append_deadline = Duration::from_secs(3);
        c.ack_timeout = Duration::from_secs(1);
    }
    let store = open_node(dir.path(), options);
    store.append("s", ExpectedVersion::NoStream, events(1)).unwrap();

    nats.kill(0);
    let second = events(1);
    let started = Instant::now();
    let err = store.append("s", ExpectedVersion::Exact(0), second.clone()).unwrap_err();
    assert!(matches!(err, StoreError::Cluster { retryable: true, .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(store.head().next_position, 1, "a refused append wrote nothing");

    nats.restart(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        // The same events each time: a retry is idempotent.
        match store.append("s", ExpectedVersion::Exact(0), second.clone()) {
            Ok(out) => break out,
            Err(e) => {
                assert!(Instant::now() < deadline, "appends did not resume: {e}");
            }
        }
    };
    assert_eq!(out.positions, vec![1]);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn a_replica_that_disagrees_with_the_cluster_is_refused_with_the_reason() {
    let nats = NatsCluster::start(1);
    // Tenant "one": one commit of two events. Tenant "two": two commits of one event each.
    let dir = tempfile::tempdir().unwrap();
    let one = open_node(dir.path(), cluster_options(&nats, "one", "a", 1));
    one.append("s", ExpectedVersion::NoStream, events(2)).unwrap();
    drop(one);
    let other = tempfile::tempdir().unwrap();
    let two = open_node(other.path(), cluster_options(&nats, "two", "b", 1));
    two.append("s", ExpectedVersion::NoStream, events(1)).unwrap();
    two.append("s", ExpectedVersion::Exact(0), events(1)).unwrap();
    drop(two);

    // The folder of tenant "one" opened in tenant "two": commit 2 of "two" does not continue it.
    let err = EventStore::open_dir(dir.path(), cluster_options(&nats, "two", "a", 1)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("disagrees with the cluster"), "{text}");
    assert!(text.contains("commit 2"), "{text}");
    // Nothing of it was applied: the folder still holds tenant "one"'s log.
    let again = open_node(dir.path(), cluster_options(&nats, "one", "a", 1));
    assert_eq!(again.head().next_position, 2);
    assert!(again.verify().unwrap().is_ok());
}

#[test]
fn a_replica_opened_without_the_cluster_serves_reads_and_refuses_appends() {
    let nats = NatsCluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let node = open_node(dir.path(), cluster_options(&nats, "alone", "a", 1));
    node.append("s", ExpectedVersion::NoStream, events(2)).unwrap();
    let head = node.head();
    drop(node);

    let alone = EventStore::open(dir.path()).unwrap();
    assert_eq!(alone.head(), head);
    assert_eq!(alone.read_stream("s", 0, Direction::Forward, 10).unwrap().len(), 2);
    let err = alone.append("s", ExpectedVersion::Exact(1), events(1)).unwrap_err();
    assert!(matches!(err, StoreError::Cluster { retryable: false, .. }), "{err}");
    assert_eq!(alone.head(), head);
}
