//! The `anquan` binary in cluster mode, as the README's walk-through runs it: three servers,
//! `demo` on node A, `stats` on node B (an empty folder that catches up), the same answer, and
//! `verify` on B opening every name A sealed (B's vault is a copy of the tenant's);
//! then the stream's leader killed and both nodes agreeing on the head; and the flags refused
//! where they do not fit.

mod cli_common;

use cli_common::{anquan, text};
mod common;

use common::nats::NatsCluster;

fn ok(args: &[&str]) -> String {
    let out = anquan(args);
    assert!(out.status.success(), "anquan {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn demo_on_one_node_and_the_same_stats_on_another_that_catches_up() {
    let mut nats = NatsCluster::start(3);
    let urls = nats.urls().join(",");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let node = |name: &'static str| vec!["--cluster", &urls, "--tenant", "district", "--node", name];

    let mut demo = node("a");
    demo.extend(["demo", "--store", a, "--scale", "0.05", "--lang", "en"]);
    ok(&demo);

    let stats = |n: &'static str, store: &str| {
        let mut args = node(n);
        args.extend(["stats", "--store", store, "--as-of", "2026-11-30", "--format", "json"]);
        ok(&args)
    };
    let on_a = stats("a", a);
    let on_b = stats("b", b);
    assert!(on_a.contains('{'), "{on_a}");
    assert_eq!(on_a, on_b);
    // B's folder is a copy of the tenant's vault: the keys of the names A sealed open them there.
    let mut verify = node("b");
    verify.extend(["verify", "--store", b]);
    let verified = ok(&verify);
    let vault_line = verified.lines().find(|l| l.starts_with("vault: ")).unwrap_or_default();
    let counts: Vec<usize> = vault_line.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert!(matches!(counts[..], [persons, good, 0] if persons > 0 && good == persons), "{verified}");

    // Kill the stream's leader: both nodes still open (once the cluster has elected another)
    // and agree on the head.
    let leader = nats.stream_leader("anquan_district").expect("a stream leader");
    nats.kill(leader);
    let mut head_b = node("b");
    head_b.extend(["head", "--store", b]);
    let mut head_a = node("a");
    head_a.extend(["head", "--store", a]);
    assert_eq!(ok(&head_a), ok(&head_b));
}

#[test]
fn cluster_flags_are_refused_where_they_do_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    let s = s.to_str().unwrap();
    let out = anquan(&["--cluster", "nats://127.0.0.1:1", "head", "--store", s]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--tenant"), "{}", text(&out.stderr));
    let out = anquan(&["--tenant", "t", "head", "--store", s]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("need --cluster"), "{}", text(&out.stderr));
    // Nothing listens there: a clear error, and no folder made.
    let out = anquan(&["--cluster", "nats://127.0.0.1:1", "--tenant", "t", "head", "--store", s]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot be reached"), "{}", text(&out.stderr));
    assert!(!dir.path().join("s").exists());
}
