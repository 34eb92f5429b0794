//! Subscriptions: catch-up then live under concurrent writers, and slow subscribers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use anquan::store::*;
use common::*;

#[test]
fn catch_up_then_live_sees_exactly_the_committed_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    for i in 0..30 {
        store.append(&format!("pre-{}", i % 4), ExpectedVersion::Any, events(2)).unwrap();
    }
    let mut sub = store.subscribe(10);
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    store.append(&format!("live-{t}-{}", i % 3), ExpectedVersion::Any, events(1 + i % 2)).unwrap();
                }
            })
        })
        .collect();
    let expected_total = 60 + 4 * (50 + 50 * 2);
    let mut seen = Vec::new();
    while seen.len() < expected_total - 10 {
        match sub.next_timeout(Duration::from_secs(10)).unwrap() {
            Some(ev) => seen.push(ev),
            None => panic!("subscription stalled at {}", sub.next_position()),
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    assert!(sub.next_timeout(Duration::from_millis(50)).unwrap().is_none(), "nothing beyond the log");
    let log = store.read_all(10, Direction::Forward, usize::MAX).unwrap();
    assert_eq!(seen, log, "same events, same order, no gaps, no repeats");
}

#[test]
fn a_slow_subscriber_never_blocks_writers_and_still_sees_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut sub = store.subscribe(0);
    // Register the live feed, then stop reading while far more batches than its queue commit.
    assert!(sub.next_timeout(Duration::from_millis(1)).unwrap().is_none());
    for i in 0..600 {
        store.append(&format!("s-{}", i % 5), ExpectedVersion::Any, events(1)).unwrap();
    }
    let seen: Vec<u64> = sub.poll(10_000).unwrap().iter().map(|e| e.position).collect();
    assert_eq!(seen, (0..600).collect::<Vec<_>>());
}

#[test]
fn the_iterator_ends_when_the_store_closes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append("s-1", ExpectedVersion::Any, events(3)).unwrap();
    let sub = store.subscribe(0);
    let reader = std::thread::spawn(move || sub.map(|r| r.unwrap().position).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_millis(50));
    store.close().unwrap();
    assert_eq!(reader.join().unwrap(), vec![0, 1, 2]);
}
