//! The write-back overlay in front of sled: batches that are readable but not yet applied to sled.
//!
//! Why: sled 0.34's `apply_batch` writes its IO buffer to the file and waits for it
//! (`sync_file_range` with `WAIT_AFTER`, in `PageCache::pin_log`) on every call, one device
//! round trip per group commit on the writer's path, although durability comes from the redo
//! journal. The overlay takes each batch in memory instead; a background thread applies
//! everything it holds to sled as one large atomic batch from time to time, so that round trip
//! is paid once per many group commits, off the commit path.
//!
//! Invariants:
//! - Precedence: a key's newest write is in the overlay if the overlay has the key (a delete is a
//!   tombstone), else sled's value is current.
//! - A flush copies a consistent cut of the overlay (whole batches only: batches enter under one
//!   write lock), applies it to sled atomically, and only then removes from the overlay each key
//!   that was not written again meanwhile, and bumps the flush generation. So a key is in the
//!   overlay or in sled at every instant, never in neither.
//! - Scans read the overlay in chunks and merge them with a sled iterator. A chunk read that sees
//!   a new flush generation re-opens the sled iterator after the last key consumed, so keys that
//!   moved from the overlay to sled behind the iterator's position are found there. A scan
//!   returns every key present when it started (with its value then or later); keys written
//!   during the scan may or may not appear. The store above bounds its reads by its published
//!   head, so it never depends on the latter.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use super::value_log::{ReadAhead, ValueLog};
use super::{KeyValue, StorageError, WriteOp};

/// Keys read from the overlay per lock acquisition during a scan.
const SCAN_CHUNK: usize = 256;

/// A key's newest write held by the overlay: a value, or `None` for a delete. Keys and values
/// are shared (not copied) between the overlay, the cuts of flushes and scan chunks.
type Value = Option<Arc<Vec<u8>>>;
type Key = Arc<[u8]>;

#[derive(Debug, Clone)]
struct Slot {
    value: Value,
    /// The batch that wrote it, so a flush removes only what it applied.
    stamp: u64,
}

#[derive(Debug, Default)]
struct Table {
    map: BTreeMap<Key, Slot>,
    bytes: usize,
    next_stamp: u64,
    /// Bumped after every flush removed keys (see the module docs).
    generation: u64,
}

fn slot_bytes(key: &[u8], slot: &Slot) -> usize {
    key.len() + slot.value.as_ref().map_or(0, |v| v.len()) + 48
}

/// The overlay: see the module docs.
#[derive(Debug, Default)]
pub struct Overlay {
    table: RwLock<Table>,
}

/// A consistent copy of the overlay, to be applied to sled by a flush.
pub struct Cut {
    entries: Vec<(Key, Slot)>,
}

impl Cut {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The writes, in key order.
    pub fn writes(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.entries.iter().map(|(k, s)| (&k[..], s.value.as_ref().map(|v| v.as_slice())))
    }
}

fn poisoned() -> StorageError {
    StorageError::Fault("the overlay lock was poisoned by a panic".into())
}

impl Overlay {
    /// Takes a batch's writes (all visible together).
    pub fn put_batch(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        // Allocate outside the lock: readers wait on it.
        let entries: Vec<(Key, Value)> = ops
            .into_iter()
            .map(|op| match op {
                WriteOp::Put(k, v) => (Key::from(k), Some(Arc::new(v))),
                WriteOp::Delete(k) => (Key::from(k), None),
            })
            .collect();
        let mut t = self.table.write().map_err(|_| poisoned())?;
        t.next_stamp += 1;
        let stamp = t.next_stamp;
        for (key, value) in entries {
            let slot = Slot { value, stamp };
            t.bytes += slot_bytes(&key, &slot);
            if let Some(old) = t.map.insert(key.clone(), slot) {
                t.bytes -= slot_bytes(&key, &old);
            }
        }
        Ok(())
    }

    /// `Some(newest write)` if the overlay holds the key (`Some(None)`: deleted), else `None`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Option<Vec<u8>>>, StorageError> {
        let t = self.table.read().map_err(|_| poisoned())?;
        Ok(t.map.get(key).map(|s| s.value.as_ref().map(|v| v.as_ref().clone())))
    }

    /// Approximate memory held, in bytes.
    pub fn bytes(&self) -> usize {
        self.table.read().map(|t| t.bytes).unwrap_or(0)
    }

    /// A consistent copy of everything held, for a flush.
    pub fn cut(&self) -> Result<Cut, StorageError> {
        let t = self.table.read().map_err(|_| poisoned())?;
        Ok(Cut { entries: t.map.iter().map(|(k, s)| (k.clone(), s.clone())).collect() })
    }

    /// After `cut` was applied to sled: drops every key not written again since.
    pub fn release(&self, cut: &Cut) -> Result<(), StorageError> {
        let mut t = self.table.write().map_err(|_| poisoned())?;
        for (k, s) in &cut.entries {
            if t.map.get(k).is_some_and(|cur| cur.stamp == s.stamp) {
                if let Some(old) = t.map.remove(k) {
                    t.bytes -= slot_bytes(k, &old);
                }
            }
        }
        t.generation += 1;
        Ok(())
    }

    /// Up to `n` entries strictly after `after` (or from `bound`) in scan order, with the flush
    /// generation they were read at.
    fn chunk(
        &self,
        lo: &Bound<Vec<u8>>,
        hi: &Bound<Vec<u8>>,
        reverse: bool,
        n: usize,
    ) -> Result<(u64, Vec<(Key, Value)>), StorageError> {
        let t = self.table.read().map_err(|_| poisoned())?;
        if !range_is_valid(lo, hi) {
            return Ok((t.generation, Vec::new()));
        }
        let range = t.map.range::<[u8], _>((as_slice(lo), as_slice(hi)));
        let take = |(k, s): (&Key, &Slot)| (k.clone(), s.value.clone());
        let out = if reverse { range.rev().take(n).map(take).collect() } else { range.take(n).map(take).collect() };
        Ok((t.generation, out))
    }
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// `BTreeMap::range` panics on an empty or inverted range; scans treat it as empty.
fn range_is_valid(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        _ => true,
    }
}

fn to_sled_bound(b: &Bound<Vec<u8>>) -> Bound<sled::IVec> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice().into()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice().into()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A scan of the overlay merged with sled (see the module docs).
pub struct MergedScan<'a> {
    overlay: &'a Overlay,
    db: &'a sled::Db,
    /// Where sled's pointers for out-of-line values lead (see `value_log`).
    values: &'a ValueLog,
    ahead: ReadAhead,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    reverse: bool,
    /// Overlay entries read and not yet consumed, in scan order.
    chunk: VecDeque<(Key, Value)>,
    /// The last key read from the overlay: the next chunk starts after it.
    chunk_edge: Option<Vec<u8>>,
    overlay_done: bool,
    generation: u64,
    sled: Option<sled::Iter>,
    sled_peek: Option<KeyValue>,
    /// The last key consumed from either side.
    cursor: Option<Vec<u8>>,
    failed: bool,
}

impl<'a> MergedScan<'a> {
    pub fn new(
        overlay: &'a Overlay,
        db: &'a sled::Db,
        values: &'a ValueLog,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        reverse: bool,
    ) -> Self {
        Self {
            overlay,
            db,
            values,
            ahead: ReadAhead::default(),
            lo,
            hi,
            reverse,
            chunk: VecDeque::new(),
            chunk_edge: None,
            overlay_done: false,
            generation: u64::MAX,
            sled: None,
            sled_peek: None,
            cursor: None,
            failed: false,
        }
    }

    /// The scan bounds narrowed to what lies after `after` in scan order.
    fn remaining(&self, after: &Option<Vec<u8>>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        match (after, self.reverse) {
            (None, _) => (self.lo.clone(), self.hi.clone()),
            (Some(k), false) => (Bound::Excluded(k.clone()), self.hi.clone()),
            (Some(k), true) => (self.lo.clone(), Bound::Excluded(k.clone())),
        }
    }

    fn refill(&mut self) -> Result<(), StorageError> {
        let (lo, hi) = self.remaining(&self.chunk_edge);
        let (generation, entries) = self.overlay.chunk(&lo, &hi, self.reverse, SCAN_CHUNK)?;
        if generation != self.generation {
            // Keys may have moved to sled behind the sled iterator: re-open it after the cursor.
            let (lo, hi) = self.remaining(&self.cursor);
            self.sled_peek = None;
            self.sled = if range_is_valid(&lo, &hi) {
                Some(self.db.range::<sled::IVec, _>((to_sled_bound(&lo), to_sled_bound(&hi))))
            } else {
                None
            };
            self.generation = generation;
        }
        self.overlay_done = entries.len() < SCAN_CHUNK;
        if let Some((k, _)) = entries.last() {
            self.chunk_edge = Some(k.to_vec());
        }
        self.chunk.extend(entries);
        Ok(())
    }

    fn peek_sled(&mut self) -> Result<(), StorageError> {
        if self.sled_peek.is_none() {
            if let Some(it) = self.sled.as_mut() {
                let next = if self.reverse { it.next_back() } else { it.next() };
                match next {
                    Some(r) => {
                        let (k, v) = r.map_err(super::sled_error)?;
                        let v = if self.values.holds(&k) {
                            self.values.read_ahead(&k, &v, &mut self.ahead)?
                        } else {
                            v.to_vec()
                        };
                        self.sled_peek = Some((k.to_vec(), v));
                    }
                    None => self.sled = None,
                }
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<KeyValue>, StorageError> {
        loop {
            if self.chunk.is_empty() && !self.overlay_done {
                self.refill()?;
                continue;
            }
            self.peek_sled()?;
            let take_overlay = match (self.chunk.front(), &self.sled_peek) {
                (None, None) => return Ok(None),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((ok, _)), Some((sk, _))) => {
                    let ok: &[u8] = ok;
                    if ok == sk.as_slice() {
                        self.sled_peek = None; // shadowed by the overlay's newer write
                        true
                    } else {
                        (ok < sk.as_slice()) != self.reverse
                    }
                }
            };
            if take_overlay {
                let Some((k, v)) = self.chunk.pop_front() else { return Ok(None) };
                self.cursor = Some(k.to_vec());
                if let Some(v) = v {
                    return Ok(Some((k.to_vec(), v.as_ref().clone())));
                }
                // A tombstone: the key is deleted; go on.
            } else if let Some((k, v)) = self.sled_peek.take() {
                self.cursor = Some(k.clone());
                return Ok(Some((k, v)));
            }
        }
    }
}

impl Iterator for MergedScan<'_> {
    type Item = Result<KeyValue, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &[u8], v: &[u8]) -> WriteOp {
        WriteOp::Put(k.to_vec(), v.to_vec())
    }

    /// A value file that holds no key's values: these tests keep every value in sled.
    fn no_values() -> (tempfile::TempDir, ValueLog) {
        let dir = tempfile::tempdir().unwrap();
        let values = ValueLog::open(dir.path(), Vec::new(), 0, super::super::value_log::Compression::None).unwrap();
        (dir, values)
    }

    fn scan(o: &Overlay, db: &sled::Db, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, rev: bool) -> Vec<KeyValue> {
        let (_dir, values) = no_values();
        MergedScan::new(o, db, &values, lo, hi, rev).map(|r| r.unwrap()).collect()
    }

    fn flush(o: &Overlay, db: &sled::Db) {
        let cut = o.cut().unwrap();
        let mut b = sled::Batch::default();
        for (k, v) in cut.writes() {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        db.apply_batch(b).unwrap();
        o.release(&cut).unwrap();
    }

    #[test]
    fn overlay_shadows_sled_and_tombstones_hide_keys() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        db.insert(b"a", b"sled-a").unwrap();
        db.insert(b"b", b"sled-b").unwrap();
        db.insert(b"d", b"sled-d").unwrap();
        let o = Overlay::default();
        o.put_batch(vec![put(b"b", b"new-b"), put(b"c", b"new-c"), WriteOp::Delete(b"d".to_vec())]).unwrap();
        let all = scan(&o, &db, Bound::Unbounded, Bound::Unbounded, false);
        let keys: Vec<(&[u8], &[u8])> = all.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        assert_eq!(keys, vec![(&b"a"[..], &b"sled-a"[..]), (b"b", b"new-b"), (b"c", b"new-c")]);
        let rev = scan(&o, &db, Bound::Unbounded, Bound::Unbounded, true);
        assert_eq!(
            rev.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]
        );
        assert_eq!(o.get(b"d").unwrap(), Some(None));
        assert_eq!(o.get(b"b").unwrap(), Some(Some(b"new-b".to_vec())));
        assert_eq!(o.get(b"a").unwrap(), None);
        flush(&o, &db);
        assert_eq!(o.get(b"b").unwrap(), None);
        assert!(db.get(b"d").unwrap().is_none());
        assert_eq!(scan(&o, &db, Bound::Unbounded, Bound::Unbounded, false), all);
        assert!(scan(&o, &db, Bound::Included(b"z".to_vec()), Bound::Excluded(b"a".to_vec()), false).is_empty());
    }

    #[test]
    fn release_keeps_keys_written_again_after_the_cut() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let o = Overlay::default();
        o.put_batch(vec![put(b"head", b"1")]).unwrap();
        let cut = o.cut().unwrap();
        o.put_batch(vec![put(b"head", b"2")]).unwrap();
        db.insert(b"head", b"1").unwrap();
        o.release(&cut).unwrap();
        assert_eq!(o.get(b"head").unwrap(), Some(Some(b"2".to_vec())));
    }

    /// A flush that moves keys to sled in the middle of a scan loses none of them, forward and
    /// in reverse, across chunk boundaries.
    #[test]
    fn a_flush_during_a_scan_loses_no_key() {
        for reverse in [false, true] {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let o = Overlay::default();
            let n = SCAN_CHUNK * 3 + 17;
            // Even keys in sled, odd keys in the overlay.
            for i in (0..n as u32).step_by(2) {
                db.insert(i.to_be_bytes(), &b"s"[..]).unwrap();
            }
            let ops: Vec<WriteOp> = (1..n as u32).step_by(2).map(|i| put(&i.to_be_bytes(), b"o")).collect();
            o.put_batch(ops).unwrap();
            let (_dir, values) = no_values();
            let mut it = MergedScan::new(&o, &db, &values, Bound::Unbounded, Bound::Unbounded, reverse);
            let mut seen = Vec::new();
            for step in 0.. {
                if step == SCAN_CHUNK / 2 || step == SCAN_CHUNK * 2 {
                    flush(&o, &db);
                }
                match it.next() {
                    Some(r) => seen.push(u32::from_be_bytes(r.unwrap().0.try_into().unwrap())),
                    None => break,
                }
            }
            let mut want: Vec<u32> = (0..n as u32).collect();
            if reverse {
                want.reverse();
            }
            assert_eq!(seen, want, "reverse = {reverse}");
        }
    }

    /// The case the re-opened sled iterator exists for: the sled iterator has already looked
    /// ahead past keys that a flush then moves from the overlay into sled.
    #[test]
    fn keys_flushed_behind_the_sled_iterator_are_found() {
        for reverse in [false, true] {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let o = Overlay::default();
            let n = SCAN_CHUNK as u32 * 3;
            // sled holds one key far outside the overlay's range, on the side the scan ends.
            let far = if reverse { 0u32 } else { 1_000_000 };
            db.insert(far.to_be_bytes(), &b"s"[..]).unwrap();
            o.put_batch((1..=n).map(|i| put(&i.to_be_bytes(), b"o")).collect()).unwrap();
            let (_dir, values) = no_values();
            let mut it = MergedScan::new(&o, &db, &values, Bound::Unbounded, Bound::Unbounded, reverse);
            let first = it.next().unwrap().unwrap(); // reads a chunk and looks ahead in sled
            flush(&o, &db); // the rest of the overlay moves into sled, behind that look-ahead
            let rest: Vec<u32> = it.map(|r| u32::from_be_bytes(r.unwrap().0.try_into().unwrap())).collect();
            let mut want: Vec<u32> = (1..=n).collect();
            if reverse {
                want.reverse();
                want.push(far);
            } else {
                want.push(far);
            }
            assert_eq!(u32::from_be_bytes(first.0.try_into().unwrap()), want[0]);
            assert_eq!(rest, want[1..].to_vec(), "reverse = {reverse}");
        }
    }

    /// Concurrent writer, flusher and scanners: every scan returns every key written before it
    /// started, once each, in order, with the value it was last given (values never change here).
    #[test]
    fn concurrent_writes_flushes_and_scans_agree() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let db = sled::Config::new().temporary(true).open().unwrap();
        let o = Overlay::default();
        let written = AtomicU32::new(0);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for b in 0..400u32 {
                    let ops =
                        (0..25u32).map(|i| put(&(b * 25 + i).to_be_bytes(), &(b * 25 + i).to_le_bytes())).collect();
                    o.put_batch(ops).unwrap();
                    written.store((b + 1) * 25, Ordering::SeqCst);
                    if b % 7 == 0 {
                        flush(&o, &db);
                    }
                }
                done.store(true, Ordering::SeqCst);
            });
            for reverse in [false, true] {
                let (o, db, written, done) = (&o, &db, &written, &done);
                s.spawn(move || {
                    while !done.load(Ordering::SeqCst) {
                        let before = written.load(Ordering::SeqCst);
                        let (_dir, values) = no_values();
                        let keys: Vec<u32> =
                            MergedScan::new(o, db, &values, Bound::Unbounded, Bound::Unbounded, reverse)
                                .map(|r| {
                                    let (k, v) = r.unwrap();
                                    let k = u32::from_be_bytes(k.try_into().unwrap());
                                    assert_eq!(v, k.to_le_bytes().to_vec());
                                    k
                                })
                                .collect();
                        let mut sorted = keys.clone();
                        if reverse {
                            sorted.reverse();
                        }
                        // In order, no duplicates, nothing missing below what was written before.
                        assert!(sorted.windows(2).all(|w| w[0] < w[1]), "reverse = {reverse}");
                        assert!(
                            sorted.len() as u32 >= before && sorted.iter().take(before as usize).copied().eq(0..before)
                        );
                    }
                });
            }
        });
        flush(&o, &db);
        assert_eq!(db.len(), 10_000);
        assert_eq!(o.bytes(), 0);
    }
}
