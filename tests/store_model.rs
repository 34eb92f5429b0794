//! Property test: random sequences of appends with random expected versions agree with a simple
//! in-memory model of the log, across reopens and idempotent retries.

mod common;

use std::collections::HashMap;

use anquan::store::*;
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append { stream: u8, expected: u8, exact: u64, n: usize },
    Multi { a: u8, b: u8, n: usize },
    RetryLast,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 0u8..4, 0u64..5, 1usize..4).prop_map(|(stream, expected, exact, n)| Op::Append { stream, expected, exact, n }),
        2 => (0u8..4, 0u8..4, 1usize..3).prop_map(|(a, b, n)| Op::Multi { a, b, n }),
        1 => Just(Op::RetryLast),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Default)]
struct Model {
    log: Vec<(String, u64, uuid::Uuid)>,
    streams: HashMap<String, u64>,
}

impl Model {
    fn check(&self, stream: &str, expected: ExpectedVersion) -> Result<(), Option<u64>> {
        let actual = self.streams.get(stream).map(|n| n - 1);
        let ok = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::StreamExists => actual.is_some(),
            ExpectedVersion::Exact(v) => actual == Some(v),
        };
        if ok {
            Ok(())
        } else {
            Err(actual)
        }
    }

    fn apply(&mut self, appends: &[StreamAppend]) -> Vec<u64> {
        let mut positions = Vec::new();
        for a in appends {
            for e in &a.events {
                let v = self.streams.entry(a.stream.clone()).or_insert(0);
                positions.push(self.log.len() as u64);
                self.log.push((a.stream.clone(), *v, e.event_id));
                *v += 1;
            }
        }
        positions
    }
}

fn expected_of(kind: u8, exact: u64) -> ExpectedVersion {
    match kind {
        0 => ExpectedVersion::Any,
        1 => ExpectedVersion::NoStream,
        2 => ExpectedVersion::StreamExists,
        _ => ExpectedVersion::Exact(exact),
    }
}

fn assert_matches(store: &EventStore, model: &Model) {
    let all = store.read_all(0, Direction::Forward, usize::MAX).unwrap();
    let got: Vec<_> = all.iter().map(|e| (e.stream.to_string(), e.version, e.event_id)).collect();
    assert_eq!(got, model.log);
    for (stream, n) in &model.streams {
        let evs = store.read_stream(stream, 0, Direction::Forward, usize::MAX).unwrap();
        assert_eq!(evs.len() as u64, *n);
        assert_eq!(store.stream_meta(stream).unwrap().unwrap().last_version, n - 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        let mut model = Model::default();
        let mut last_ok: Option<(Vec<StreamAppend>, Vec<u64>)> = None;
        for op in ops {
            let appends = match op {
                Op::Reopen => {
                    store.close().unwrap();
                    store = open(dir.path());
                    assert_matches(&store, &model);
                    continue;
                }
                Op::RetryLast => {
                    if let Some((appends, positions)) = &last_ok {
                        let out = store.append_multi(appends.clone()).unwrap();
                        prop_assert!(out.already_committed);
                        prop_assert_eq!(&out.positions, positions);
                    }
                    continue;
                }
                Op::Append { stream, expected, exact, n } => {
                    vec![StreamAppend::new(format!("s-{stream}"), expected_of(expected, exact), events(n))]
                }
                Op::Multi { a, b, n } => {
                    if a == b { continue; }
                    let sa = format!("s-{a}");
                    let sb = format!("s-{b}");
                    let ea = model.streams.get(&sa).map(|v| ExpectedVersion::Exact(v - 1)).unwrap_or(ExpectedVersion::NoStream);
                    vec![StreamAppend::new(sa, ea, events(n)), StreamAppend::new(sb, ExpectedVersion::Any, events(1))]
                }
            };
            let verdict: Result<(), (String, Option<u64>)> = appends.iter().try_for_each(|a| model.check(&a.stream, a.expected).map_err(|act| (a.stream.clone(), act)));
            match (store.append_multi(appends.clone()), verdict) {
                (Ok(out), Ok(())) => {
                    let positions = model.apply(&appends);
                    prop_assert_eq!(&out.positions, &positions);
                    last_ok = Some((appends, positions));
                }
                (Err(StoreError::WrongExpectedVersion { stream, actual, .. }), Err((s, act))) => {
                    prop_assert_eq!(stream, s);
                    prop_assert_eq!(actual, act);
                }
                (got, want) => prop_assert!(false, "store said {:?}, model said {:?}", got.map(|o| o.positions), want),
            }
        }
        assert_matches(&store, &model);
        prop_assert!(store.verify().unwrap().is_ok());
    }
}
