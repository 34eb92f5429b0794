//! [`Staged`]: how a bulk fold keeps the entries it builds (arrival order behind a hash index)
//! until it sorts them into the state's `BTreeMap` once, at the end.

use std::hash::BuildHasher;

/// Entries keyed by id, staged during a bulk fold ([`Projection::begin_bulk`]): appended in
/// arrival order behind a hash index, then sorted into a `BTreeMap` once at the end. A bulk fold
/// inserts many ids in no particular order; into a `BTreeMap` of large values every such insert
/// searches a deep tree and shifts values inside its nodes, here it is a hash lookup and a push.
///
/// The index keeps each id's hash beside its slot, so the table's growth moves slots without
/// hashing an id again (with std's `HashMap<String, _>`, rehashing on growth was most of the
/// staging's time in a 1M-event rebuild), and ids are hashed with foldhash, seeded per table.
#[derive(Debug, Clone)]
pub(crate) struct Staged<V> {
    /// (hash of the id, slot in `ids` and `entries`).
    index: hashbrown::HashTable<(u64, usize)>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Ids in arrival order; `entries[i]` is `ids[i]`'s.
    ids: Vec<String>,
    entries: Vec<V>,
}

/// Equal when the same ids hold the same entries in the same arrival order (the index is
/// derived from the ids).
impl<V: PartialEq> PartialEq for Staged<V> {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids && self.entries == other.entries
    }
}

impl<V: Eq> Eq for Staged<V> {}

impl<V> Staged<V> {
    /// Takes the entries of `map` (which is left empty) as the start of the staging.
    pub(crate) fn take(map: &mut std::collections::BTreeMap<String, V>) -> Self {
        let n = map.len();
        let mut staged = Self {
            index: hashbrown::HashTable::with_capacity(n),
            hasher: hashbrown::DefaultHashBuilder::default(),
            ids: Vec::with_capacity(n),
            entries: Vec::with_capacity(n),
        };
        for (id, v) in std::mem::take(map) {
            let hash = staged.hasher.hash_one(id.as_str());
            staged.index.insert_unique(hash, (hash, staged.ids.len()), |&(h, _)| h);
            staged.ids.push(id);
            staged.entries.push(v);
        }
        staged
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut V> {
        let hash = self.hasher.hash_one(id);
        let ids = &self.ids;
        let &(_, slot) = self.index.find(hash, |&(h, i)| h == hash && ids.get(i).is_some_and(|k| k == id))?;
        self.entries.get_mut(slot)
    }

    /// Adds an entry for an id not staged yet (`make` gets the id); `None` when it is staged.
    pub(crate) fn insert_new(&mut self, id: &str, make: impl FnOnce(String) -> V) -> Option<&mut V> {
        let Self { index, hasher, ids, entries } = self;
        let hash = hasher.hash_one(id);
        let same = |&(h, i): &(u64, usize)| h == hash && ids.get(i).is_some_and(|k| k == id);
        match index.entry(hash, same, |&(h, _)| h) {
            hashbrown::hash_table::Entry::Occupied(_) => None,
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert((hash, entries.len()));
                ids.push(id.to_string());
                entries.push(make(id.to_string()));
                entries.last_mut()
            }
        }
    }

    /// The staged entries as a map, by id. The ids are sorted by their first 8 bytes as a
    /// big-endian number (zero-padded: the same order as the bytes, up to ties, which compare
    /// the whole ids) through a permutation, so the values move a fixed number of times.
    pub(crate) fn into_map(self) -> std::collections::BTreeMap<String, V> {
        let prefix = |id: &str| {
            let mut b = [0u8; 8];
            let n = id.len().min(8);
            b[..n].copy_from_slice(&id.as_bytes()[..n]);
            u64::from_be_bytes(b)
        };
        let ids = self.ids;
        let mut order: Vec<(u64, usize)> = ids.iter().enumerate().map(|(i, id)| (prefix(id), i)).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| ids.get(a.1).cmp(&ids.get(b.1))));
        let mut slots: Vec<Option<(String, V)>> = ids.into_iter().zip(self.entries).map(Some).collect();
        order.into_iter().filter_map(|(_, i)| slots.get_mut(i)?.take()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::Staged;

    #[derive(Debug, Clone)]
    enum Op {
        /// Stage a new id with this value (nothing when it is staged).
        Insert(String, u32),
        /// Add to a staged id's value (nothing when it is not).
        Add(String, u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct ids, with shared prefixes longer and shorter than 8 bytes, so inserts
        // meet staged ids and the final sort meets prefix ties.
        let id = prop_oneof!["[ab]{0,3}", "hazard-00[0-9]{1,2}", "[ab]{8}[ab]{0,2}"];
        prop_oneof![
            (id.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (id, 0u32..1000).prop_map(|(k, v)| Op::Add(k, v))
        ]
    }

    proptest! {
        /// Staging, from any map, behaves as the map itself and ends as it would.
        #[test]
        fn staging_is_the_map_it_ends_as(
            start in proptest::collection::btree_map("[ab]{0,9}", any::<u32>(), 0..20),
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let mut model = start.clone();
            let mut from = start;
            let mut staged = Staged::take(&mut from);
            prop_assert!(from.is_empty());
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let fresh = !model.contains_key(&k);
                        if fresh {
                            model.insert(k.clone(), v);
                        }
                        let got = staged.insert_new(&k, |_| v).map(|e| *e);
                        prop_assert_eq!(got, fresh.then_some(v));
                    }
                    Op::Add(k, v) => {
                        let want = model.get_mut(&k).map(|e| {
                            *e = e.wrapping_add(v);
                            *e
                        });
                        let got = staged.get_mut(&k).map(|e| {
                            *e = e.wrapping_add(v);
                            *e
                        });
                        prop_assert_eq!(got, want);
                    }
                }
            }
            let ended: BTreeMap<String, u32> = staged.into_map();
            prop_assert_eq!(ended, model);
        }
    }

    #[test]
    fn make_gets_the_id() {
        let mut staged = Staged::take(&mut BTreeMap::<String, String>::new());
        assert_eq!(staged.insert_new("h1", |id| id).cloned(), Some("h1".to_string()));
        assert_eq!(staged.insert_new("h1", |_| unreachable!()), None);
    }
}
