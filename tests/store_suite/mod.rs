//! The store's behaviour tests, written once and run on every backend: a test binary names a
//! [`Backend`] and `store_suite!(basics, EXPR)` / `store_suite!(subscriptions, EXPR)` expands to
//! one `#[test]` per suite function, each with its own backend value from `EXPR`.
//!
//! - `store_basics` and `store_subscription`: the embedded sled store ([`Sled`]).
//! - `store_cluster` (feature `cluster`): the same store in cluster mode, on real `nats-server`s.
//!
//! A backend value serves one test: every store it opens holds the same log (cluster mode: the
//! same tenant, so a reopened folder is the same replica), and no other test sees that log.
//! Every store opened with `options` gets exactly the test's options (clock, durability,
//! create flag); a backend only adds what it needs (cluster mode: `cluster`).
// Each binary instantiates only some of the suite.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anquan::store::*;

use crate::common::*;

/// Where the suite's stores live.
pub trait Backend {
    /// Opens the store in `dir` with `options` plus what this backend needs.
    fn try_open(&self, dir: &Path, options: StoreOptions) -> Result<EventStore, StoreError>;

    /// Opens the store in `dir` with `options`; a failure fails the test.
    fn open_with(&self, dir: &Path, options: StoreOptions) -> EventStore {
        self.try_open(dir, options).expect("open store")
    }

    /// Opens the store in `dir` with default options.
    fn open(&self, dir: &Path) -> EventStore {
        self.open_with(dir, StoreOptions::default())
    }
}

/// The embedded sled store: the folder alone.
pub struct Sled;

impl Backend for Sled {
    fn try_open(&self, dir: &Path, options: StoreOptions) -> Result<EventStore, StoreError> {
        EventStore::open_dir(dir, options)
    }
}

/// `store_suite!(basics, EXPR)`, `store_suite!(subscriptions, EXPR)`: one `#[test]` per suite
/// function of that part, each calling it with a fresh `EXPR` (a value implementing [`Backend`]).
macro_rules! store_suite {
    (basics, $backend:expr) => {
        store_suite!(@each $backend;
            append_and_read_back_in_order_with_gapless_positions_and_versions,
            expected_version_mismatches_name_the_actual_version_and_write_nothing,
            empty_oversized_and_malformed_appends_are_rejected_without_writing,
            retrying_the_same_append_returns_original_positions_and_writes_nothing,
            a_retry_with_an_absurd_expected_version_is_refused_not_fatal,
            multi_stream_commits_are_all_or_nothing,
            metadata_listing_clock_and_time_travel,
            listing_after_a_stream_that_sorts_before_the_prefix_stays_inside_the_prefix,
            reopen_keeps_everything_in_order_and_verifies,
            deferred_durability_acknowledges_then_syncs_on_flush_and_close,
            opening_a_missing_store_without_create_is_a_clear_error,
        );
    };
    (subscriptions, $backend:expr) => {
        store_suite!(@each $backend;
            catch_up_then_live_sees_exactly_the_committed_sequence,
            a_slow_subscriber_never_blocks_writers_and_still_sees_everything,
            the_iterator_ends_when_the_store_closes,
        );
    };
    (@each $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let backend = $backend;
                $crate::store_suite::$name(&backend);
            }
        )*
    };
}

pub fn append_and_read_back_in_order_with_gapless_positions_and_versions(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    let a = store.append("hazard-1", ExpectedVersion::NoStream, events(3)).unwrap();
    assert_eq!(a.positions, vec![0, 1, 2]);
    let b = store.append("hazard-2", ExpectedVersion::Any, events(2)).unwrap();
    assert_eq!(b.positions, vec![3, 4]);
    let c = store.append("hazard-1", ExpectedVersion::Exact(2), events(1)).unwrap();
    assert_eq!(c.positions, vec![5]);
    assert_eq!(c.streams[0].first_version, 3);

    let all = store.read_all(0, Direction::Forward, 100).unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
    let h1 = store.read_stream("hazard-1", 0, Direction::Forward, 100).unwrap();
    assert_eq!(h1.iter().map(|e| e.version).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(h1.iter().map(|e| e.position).collect::<Vec<_>>(), vec![0, 1, 2, 5]);
    let back = store.read_stream("hazard-1", u64::MAX, Direction::Backward, 2).unwrap();
    assert_eq!(back.iter().map(|e| e.version).collect::<Vec<_>>(), vec![3, 2]);
    let back_all = store.read_all(4, Direction::Backward, 3).unwrap();
    assert_eq!(back_all.iter().map(|e| e.position).collect::<Vec<_>>(), vec![4, 3, 2]);
    // Chain links.
    for w in all.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    assert_eq!(store.head().next_position, 6);
    assert_eq!(store.head().hash, all[5].hash);
}

pub fn expected_version_mismatches_name_the_actual_version_and_write_nothing(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    store.append("incident-1", ExpectedVersion::NoStream, events(2)).unwrap();
    let head = store.head();

    let err = store.append("incident-1", ExpectedVersion::NoStream, events(1)).unwrap_err();
    assert!(
        matches!(err, StoreError::WrongExpectedVersion { ref stream, actual: Some(1), .. } if stream == "incident-1"),
        "{err}"
    );
    let err = store.append("incident-1", ExpectedVersion::Exact(0), events(1)).unwrap_err();
    assert!(
        matches!(err, StoreError::WrongExpectedVersion { actual: Some(1), expected: ExpectedVersion::Exact(0), .. }),
        "{err}"
    );
    assert!(err.is_conflict());
    let err = store.append("incident-2", ExpectedVersion::StreamExists, events(1)).unwrap_err();
    assert!(matches!(err, StoreError::WrongExpectedVersion { actual: None, .. }), "{err}");
    let err = store.append("incident-2", ExpectedVersion::Exact(0), events(1)).unwrap_err();
    assert!(matches!(err, StoreError::WrongExpectedVersion { actual: None, .. }), "{err}");
    assert!(err.to_string().contains("no stream"), "{err}");

    assert_eq!(store.head(), head, "rejections must not write");
    assert!(store.stream_meta("incident-2").unwrap().is_none());
    store.append("incident-1", ExpectedVersion::StreamExists, events(1)).unwrap();
    store.append("incident-1", ExpectedVersion::Exact(2), events(1)).unwrap();
}

pub fn empty_oversized_and_malformed_appends_are_rejected_without_writing(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    store.append("s-1", ExpectedVersion::Any, events(1)).unwrap();
    let head = store.head();

    assert!(matches!(store.append("s-1", ExpectedVersion::Any, vec![]).unwrap_err(), StoreError::EmptyAppend));
    assert!(matches!(store.append_multi(vec![]).unwrap_err(), StoreError::EmptyAppend));
    let err = store
        .append_multi(vec![
            StreamAppend::new("s-2", ExpectedVersion::Any, events(1)),
            StreamAppend::new("s-3", ExpectedVersion::Any, vec![]),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::EmptyStreamAppend { ref stream } if stream == "s-3"), "{err}");

    let big = event("test.big", &vec![7u8; MAX_EVENT_BYTES - 10]);
    let err = store.append("s-1", ExpectedVersion::Any, vec![event("test.ok", b"x"), big]).unwrap_err();
    assert!(matches!(err, StoreError::EventTooLarge { index: 1, limit: MAX_EVENT_BYTES, .. }), "{err}");
    assert!(err.to_string().contains("limit"));
    let huge = event("test.big", &vec![7u8; MAX_EVENT_BYTES + 1]);
    assert!(matches!(
        store.append("s-1", ExpectedVersion::Any, vec![huge]).unwrap_err(),
        StoreError::EventTooLarge { .. }
    ));

    for bad in ["", "a/b", "../etc", "x\u{0}y", "tab\there", "中文"] {
        let err = store.append(bad, ExpectedVersion::Any, events(1)).unwrap_err();
        assert!(matches!(err, StoreError::InvalidStreamId { .. }), "{bad:?}: {err}");
    }
    let mut e = event("Bad Type", b"x");
    assert!(matches!(
        store.append("s-1", ExpectedVersion::Any, vec![e.clone()]).unwrap_err(),
        StoreError::InvalidEvent { .. }
    ));
    e.event_type = "ok.type".into();
    e.actor = "bad\nactor".into();
    assert!(matches!(store.append("s-1", ExpectedVersion::Any, vec![e]).unwrap_err(), StoreError::InvalidEvent { .. }));
    let dup = event("test.x", b"1");
    let err = store.append("s-1", ExpectedVersion::Any, vec![dup.clone(), dup]).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateEventInAppend { .. }), "{err}");
    let err = store
        .append_multi(vec![
            StreamAppend::new("s-9", ExpectedVersion::Any, events(1)),
            StreamAppend::new("s-9", ExpectedVersion::Any, events(1)),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::StreamRepeated { .. }), "{err}");

    assert_eq!(store.head(), head);
    assert_eq!(store.read_all(0, Direction::Forward, 10).unwrap().len(), 1);
    assert!(store.verify().unwrap().is_ok());
}

pub fn retrying_the_same_append_returns_original_positions_and_writes_nothing(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    store.append("hazard-7", ExpectedVersion::NoStream, events(1)).unwrap();
    let batch = events(3);
    let first = store.append("hazard-7", ExpectedVersion::Exact(0), batch.clone()).unwrap();
    assert!(!first.already_committed);
    store.append("hazard-8", ExpectedVersion::Any, events(2)).unwrap();
    let head = store.head();

    let retry = store.append("hazard-7", ExpectedVersion::Exact(0), batch.clone()).unwrap();
    assert!(retry.already_committed);
    assert_eq!(retry.positions, first.positions);
    assert_eq!(retry.streams, first.streams);
    let retry_any = store.append("hazard-7", ExpectedVersion::Any, batch.clone()).unwrap();
    assert_eq!(retry_any.positions, first.positions);
    assert_eq!(store.head(), head);

    // Same id, different content.
    let mut changed = batch.clone();
    changed[1].payload = b"something else".to_vec();
    let err = store.append("hazard-7", ExpectedVersion::Exact(0), changed).unwrap_err();
    assert!(matches!(err, StoreError::EventIdConflict { position, .. } if position == first.positions[1]), "{err}");
    // Same ids at another place.
    let err = store.append("hazard-9", ExpectedVersion::Any, batch.clone()).unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyMismatch { .. }), "{err}");
    let err = store.append("hazard-7", ExpectedVersion::Exact(3), batch.clone()).unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyMismatch { .. }), "{err}");
    // Part old, part new.
    let mut mixed = batch.clone();
    mixed.push(event("test.event", b"new"));
    let err = store.append("hazard-7", ExpectedVersion::Exact(0), mixed).unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyMismatch { .. }), "{err}");
    // Reordered ids are not the same append.
    let mut reordered = batch.clone();
    reordered.swap(0, 2);
    assert!(store.append("hazard-7", ExpectedVersion::Any, reordered).is_err());
    assert_eq!(store.head(), head);

    // Retries survive reopen (the id index is durable).
    drop(store);
    let store = backend.open(dir.path());
    let retry = store.append("hazard-7", ExpectedVersion::Exact(0), batch).unwrap();
    assert!(retry.already_committed);
    assert_eq!(retry.positions, first.positions);
}

pub fn a_retry_with_an_absurd_expected_version_is_refused_not_fatal(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    let batch = events(1);
    store.append("s-1", ExpectedVersion::NoStream, batch.clone()).unwrap();
    let err = store.append("s-1", ExpectedVersion::Exact(u64::MAX), batch).unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyMismatch { .. }), "{err}");
    // The writer is still alive.
    store.append("s-1", ExpectedVersion::Exact(0), events(1)).unwrap();
}

pub fn multi_stream_commits_are_all_or_nothing(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    store.append("hazard-1", ExpectedVersion::NoStream, events(1)).unwrap();
    let head = store.head();
    // The incident is new, but the hazard's expected version is stale: nothing is written.
    let err = store
        .append_multi(vec![
            StreamAppend::new("incident-1", ExpectedVersion::NoStream, events(2)),
            StreamAppend::new("hazard-1", ExpectedVersion::Exact(5), events(1)),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongExpectedVersion { ref stream, .. } if stream == "hazard-1"));
    assert_eq!(store.head(), head);
    assert!(store.stream_meta("incident-1").unwrap().is_none());

    let ok = store
        .append_multi(vec![
            StreamAppend::new("incident-1", ExpectedVersion::NoStream, events(2)),
            StreamAppend::new("hazard-1", ExpectedVersion::Exact(0), events(1)),
        ])
        .unwrap();
    assert_eq!(ok.positions, vec![1, 2, 3]);
    assert_eq!(ok.streams[0].stream, "incident-1");
    assert_eq!((ok.streams[1].first_version, ok.streams[1].last_position), (1, 3));
    let all = store.read_all(0, Direction::Forward, 10).unwrap();
    assert_eq!(
        all.iter().map(|e| (&*e.stream, e.version)).collect::<Vec<_>>(),
        vec![("hazard-1", 0), ("incident-1", 0), ("incident-1", 1), ("hazard-1", 1)]
    );
}

pub fn metadata_listing_clock_and_time_travel(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (opts, clock) = options_with_clock();
    let store = backend.open_with(dir.path(), opts);
    store.append("hazard-1", ExpectedVersion::Any, events(2)).unwrap();
    clock.advance_micros(1_000_000);
    store.append("hazard-2", ExpectedVersion::Any, events(1)).unwrap();
    clock.advance_micros(1_000_000);
    store.append("incident-1", ExpectedVersion::Any, events(1)).unwrap();
    store.append("hazard-1", ExpectedVersion::Any, events(1)).unwrap();
    // A clock that goes backwards never makes recorded-at decrease.
    clock.advance_micros(-10_000_000);
    store.append("hazard-3", ExpectedVersion::Any, events(1)).unwrap();

    let meta = store.stream_meta("hazard-1").unwrap().unwrap();
    assert_eq!((meta.last_version, meta.event_count, meta.first_position, meta.last_position), (2, 3, 0, 4));
    assert_eq!(meta.first_recorded_at, Timestamp(T0));
    assert_eq!(meta.last_recorded_at, Timestamp(T0 + 2_000_000));
    assert_eq!(store.stream_meta("hazard-3").unwrap().unwrap().last_recorded_at, Timestamp(T0 + 2_000_000));
    assert!(store.stream_meta("hazard-404").unwrap().is_none());

    assert_eq!(store.list_streams("hazard-", None, 10).unwrap(), vec!["hazard-1", "hazard-2", "hazard-3"]);
    assert_eq!(store.list_streams("hazard-", Some("hazard-1"), 1).unwrap(), vec!["hazard-2"]);
    assert_eq!(store.list_streams("", None, 10).unwrap().len(), 4);
    assert_eq!(store.list_streams("x", None, 10).unwrap(), Vec::<String>::new());

    let all = store.read_all(0, Direction::Forward, 100).unwrap();
    assert!(all.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
    assert_eq!(store.position_as_of(Timestamp(T0 - 1)).unwrap(), 0);
    assert_eq!(store.position_as_of(Timestamp(T0)).unwrap(), 2);
    assert_eq!(store.position_as_of(Timestamp(T0 + 1_500_000)).unwrap(), 3);
    assert_eq!(store.position_as_of(Timestamp(i64::MAX)).unwrap(), 6);
}

pub fn listing_after_a_stream_that_sorts_before_the_prefix_stays_inside_the_prefix(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    for s in ["b-1", "h-1", "h-2", "z-1"] {
        store.append(s, ExpectedVersion::Any, events(1)).unwrap();
    }
    assert_eq!(store.list_streams("h", Some("a"), 10).unwrap(), vec!["h-1", "h-2"]);
    assert_eq!(store.list_streams("h", Some("h-1"), 10).unwrap(), vec!["h-2"]);
    assert_eq!(store.list_streams("h", Some("i"), 10).unwrap(), Vec::<String>::new());
}

pub fn reopen_keeps_everything_in_order_and_verifies(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let store = backend.open(dir.path());
        for i in 0..50 {
            let stream = format!("community-{}", i % 7);
            store.append(&stream, ExpectedVersion::Any, events(1 + i % 3)).unwrap();
        }
        // One append large enough to span several segments.
        let big: Vec<_> = (0..40).map(|i| event("test.big", &vec![i as u8; 4000])).collect();
        store.append("community-big", ExpectedVersion::NoStream, big).unwrap();
        let all = store.read_all(0, Direction::Forward, 10_000).unwrap();
        store.close().unwrap();
        all
    };
    let store = backend.open(dir.path());
    let again = store.read_all(0, Direction::Forward, 10_000).unwrap();
    assert_eq!(again, expected);
    assert_eq!(store.read_stream("community-big", 0, Direction::Forward, 100).unwrap().len(), 40);
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, expected.len() as u64);
    assert_eq!(report.computed_head_hash, store.head().hash_hex());
    // The writer's view of versions is reloaded from disk.
    let next = store.stream_meta("community-3").unwrap().unwrap().last_version;
    store.append("community-3", ExpectedVersion::Exact(next), events(1)).unwrap();
    assert!(matches!(
        store.append("community-big", ExpectedVersion::NoStream, events(1)).unwrap_err(),
        StoreError::WrongExpectedVersion { actual: Some(39), .. }
    ));
}

pub fn deferred_durability_acknowledges_then_syncs_on_flush_and_close(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        durability: Durability::Deferred { flush_interval: Duration::from_millis(50) },
        ..StoreOptions::default()
    };
    let store = backend.open_with(dir.path(), opts.clone());
    for _ in 0..20 {
        store.append("bulk-1", ExpectedVersion::Any, events(5)).unwrap();
    }
    store.flush().unwrap();
    // The flush was a sync, counted and timed in the stats.
    let stats = store.stats();
    assert!(stats.syncs >= 1, "{stats:?}");
    assert!(stats.sync_nanos >= stats.syncs, "every sync takes some time: {stats:?}");
    store.close().unwrap();
    let store = backend.open_with(dir.path(), opts);
    assert_eq!(store.head().next_position, 100);
    assert!(store.verify().unwrap().is_ok());
}

pub fn opening_a_missing_store_without_create_is_a_clear_error(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions { create_if_missing: false, ..StoreOptions::default() };
    let err = backend.try_open(&dir.path().join("nope"), opts).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(!dir.path().join("nope").exists());
}

pub fn catch_up_then_live_sees_exactly_the_committed_sequence(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(backend.open(dir.path()));
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

pub fn a_slow_subscriber_never_blocks_writers_and_still_sees_everything(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    let mut sub = store.subscribe(0);
    // Register the live feed, then stop reading while far more batches than its queue commit.
    assert!(sub.next_timeout(Duration::from_millis(1)).unwrap().is_none());
    for i in 0..600 {
        store.append(&format!("s-{}", i % 5), ExpectedVersion::Any, events(1)).unwrap();
    }
    let seen: Vec<u64> = sub.poll(10_000).unwrap().iter().map(|e| e.position).collect();
    assert_eq!(seen, (0..600).collect::<Vec<_>>());
}

pub fn the_iterator_ends_when_the_store_closes(backend: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path());
    store.append("s-1", ExpectedVersion::Any, events(3)).unwrap();
    let sub = store.subscribe(0);
    let reader = std::thread::spawn(move || sub.map(|r| r.unwrap().position).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_millis(50));
    store.close().unwrap();
    assert_eq!(reader.join().unwrap(), vec![0, 1, 2]);
}
