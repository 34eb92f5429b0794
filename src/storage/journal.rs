//! A redo journal in front of sled: one `fdatasync` of a zero-filled file per durable commit.
//!
//! Why: making a sled commit durable through sled itself costs a sled `flush` (write, then
//! `sync_file_range` with wait: sled issue 1452) *and* our `fdatasync` of its log file that grows
//! (so the file system journal commits too): two to three device round trips per commit. The
//! journal replaces that on the commit path with one write into a file whose blocks were already
//! written (it grows a MiB of zeros at a time, up to its capacity, and is reused from the start
//! after each checkpoint), followed by `fdatasync`, which then has no metadata to commit. sled is made
//! durable only at checkpoints.
//!
//! Format (little endian):
//! - header, the first [`HEADER_LEN`] bytes: `magic "ANQJRNL1" | generation u64 | durable_seq
//!   u64 | check [16]` where `check = BLAKE3(magic ‖ generation ‖ durable_seq)[..16]`, and
//!   `durable_seq` is the last batch the checkpoint that wrote the header made durable in sled.
//! - records from offset [`HEADER_LEN`]: `magic u32 | generation u64 | len u32 | check [16] |
//!   payload [len]`, `check = BLAKE3(generation ‖ len ‖ payload)[..16]`. The payload is one
//!   atomic write batch.
//!
//! Invariants:
//! - A record is written only after its batch was applied to the backend (readable in the
//!   overlay, applied to sled later as part of a larger atomic batch), and acknowledged only after
//!   the `fdatasync` that covers it. sled may hold a batch the journal lacks (applied, never
//!   acknowledged); never part of one.
//! - Recovery applies, in order, every record of the header's generation up to the first one that
//!   is torn or from an older generation, then checkpoints. Replaying a record that sled already
//!   holds is harmless: batches are idempotent puts and deletes of whole keys.
//! - A checkpoint applies the whole overlay to sled, makes sled durable (flush + `fdatasync` of
//!   its files), then writes a header with
//!   the next generation; records of older generations are dead from then on. A crash between
//!   the two replays old records once more, which is harmless.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{StorageError, WriteBatch, WriteOp};

/// Bytes reserved for the header (one page, so its rewrite never tears records).
pub const HEADER_LEN: u64 = 4096;
/// The file grows by this much at a time, filled with zeros.
const GROW_CHUNK: u64 = 1024 * 1024;
const HEADER_MAGIC: &[u8; 8] = b"ANQJRNL1";
const RECORD_MAGIC: u32 = 0x4351_524A; // "JRQC"
const RECORD_HEADER_LEN: usize = 4 + 8 + 4 + 16;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

fn check(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

/// Serialises a batch as a journal payload.
pub fn encode_batch(batch: &WriteBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.payload_bytes() + batch.len() * 9 + 4);
    out.extend_from_slice(&(batch.len() as u32).to_le_bytes());
    for op in batch.ops() {
        match op {
            WriteOp::Put(k, v) => {
                out.push(OP_PUT);
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v);
            }
            WriteOp::Delete(k) => {
                out.push(OP_DELETE);
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
            }
        }
    }
    out
}

/// Parses a journal payload back into a batch (None if malformed).
pub fn decode_batch(bytes: &[u8]) -> Option<WriteBatch> {
    fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
        let s = bytes.get(*at..at.checked_add(n)?)?;
        *at += n;
        Some(s)
    }
    fn len(bytes: &[u8], at: &mut usize) -> Option<usize> {
        Some(u32::from_le_bytes(take(bytes, at, 4)?.try_into().ok()?) as usize)
    }
    let mut at = 0;
    let count = len(bytes, &mut at)?;
    let mut batch = WriteBatch::new();
    for _ in 0..count {
        let tag = *take(bytes, &mut at, 1)?.first()?;
        let klen = len(bytes, &mut at)?;
        let key = take(bytes, &mut at, klen)?.to_vec();
        match tag {
            OP_PUT => {
                let vlen = len(bytes, &mut at)?;
                batch.put(key, take(bytes, &mut at, vlen)?.to_vec());
            }
            OP_DELETE => batch.delete(key),
            _ => return None,
        }
    }
    (at == bytes.len()).then_some(batch)
}

/// The journal file: writes and syncs; the caller serialises access.
#[derive(Debug)]
pub struct Journal {
    file: File,
    capacity: u64,
    generation: u64,
    durable_seq: u64,
    /// Where the next record goes.
    offset: u64,
    /// The file's length: every byte below it was written (records or zeros), so a record
    /// written below it is a pure overwrite whose `fdatasync` has no metadata to commit.
    zeroed_to: u64,
}

impl Journal {
    /// Opens the journal at `path`, creating and allocating it to `capacity` bytes if needed,
    /// and returns it with the payloads of its live records, oldest first, for replay.
    pub fn open(path: &Path, capacity: u64) -> Result<(Self, Vec<Vec<u8>>), StorageError> {
        let existed = path.exists();
        let file = File::options().read(true).write(true).create(true).truncate(false).open(path)?;
        let len = file.metadata()?.len();
        let capacity = capacity.max(len).max(HEADER_LEN * 4);
        let zeroed_to = len.max(HEADER_LEN);
        if len < zeroed_to {
            write_zeros(&file, len, zeroed_to)?;
            file.sync_all()?;
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        let mut header = [0u8; 40];
        file.read_exact_at(&mut header, 0)?;
        let found = if &header[..8] == HEADER_MAGIC {
            let generation = u64::from_le_bytes(header[8..16].try_into().map_err(|_| fault("journal header"))?);
            let durable_seq = u64::from_le_bytes(header[16..24].try_into().map_err(|_| fault("journal header"))?);
            if header[24..40] != check(&[HEADER_MAGIC, &generation.to_le_bytes(), &durable_seq.to_le_bytes()]) {
                return Err(fault(&format!("the journal header of {} is damaged", path.display())));
            }
            Some((generation, durable_seq))
        } else if existed && header.iter().any(|b| *b != 0) {
            return Err(fault(&format!("{} does not start with a journal header", path.display())));
        } else {
            None
        };
        let (generation, durable_seq) = found.unwrap_or((0, 0));
        let mut journal = Self { file, capacity, generation, durable_seq, offset: HEADER_LEN, zeroed_to };
        let batches = match found {
            Some((g, _)) => journal.read_live(g)?,
            None => {
                journal.write_header(0, 0)?;
                Vec::new()
            }
        };
        Ok((journal, batches))
    }

    /// The last batch sequence number the latest checkpoint made durable in the main store.
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    fn read_live(&mut self, generation: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut batches = Vec::new();
        let mut at = HEADER_LEN;
        let mut head = [0u8; RECORD_HEADER_LEN];
        let end = self.zeroed_to.min(self.capacity);
        while at + RECORD_HEADER_LEN as u64 <= end {
            self.file.read_exact_at(&mut head, at)?;
            let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let gen = u64::from_le_bytes(head[4..12].try_into().map_err(|_| fault("record"))?);
            let len = u32::from_le_bytes(head[12..16].try_into().map_err(|_| fault("record"))?) as u64;
            if magic != RECORD_MAGIC || gen != generation || at + RECORD_HEADER_LEN as u64 + len > end {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file.read_exact_at(&mut payload, at + RECORD_HEADER_LEN as u64)?;
            if head[16..32] != check(&[&gen.to_le_bytes(), &(len as u32).to_le_bytes(), &payload]) {
                break; // torn: never acknowledged
            }
            batches.push(payload);
            at += RECORD_HEADER_LEN as u64 + len;
        }
        self.offset = at;
        Ok(batches)
    }

    /// Starts `generation`, recording that batches up to `durable_seq` are durable in the main
    /// store: records of older generations are dead from now on.
    pub fn write_header(&mut self, generation: u64, durable_seq: u64) -> Result<(), StorageError> {
        let mut header = Vec::with_capacity(40);
        header.extend_from_slice(HEADER_MAGIC);
        header.extend_from_slice(&generation.to_le_bytes());
        header.extend_from_slice(&durable_seq.to_le_bytes());
        header.extend_from_slice(&check(&[HEADER_MAGIC, &generation.to_le_bytes(), &durable_seq.to_le_bytes()]));
        self.file.write_all_at(&header, 0)?;
        self.file.sync_data()?;
        self.generation = generation;
        self.durable_seq = durable_seq;
        self.offset = HEADER_LEN;
        Ok(())
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Marks every record dead once the main store durably holds batches up to `durable_seq`:
    /// the header gets generation 0, which no record carries (a journal's first header is
    /// generation 0 and the store checkpoints, moving to generation 1, before its first record).
    pub fn retire(&mut self, durable_seq: u64) -> Result<(), StorageError> {
        self.write_header(0, durable_seq)
    }

    /// True if `bytes` of payload in `records` records fit in an empty journal.
    pub fn fits_when_empty(&self, payload_bytes: usize, records: usize) -> bool {
        HEADER_LEN + (payload_bytes + records * RECORD_HEADER_LEN) as u64 <= self.capacity
    }

    /// True if `bytes` more payload fit after the records written so far.
    pub fn fits(&self, payload_bytes: usize, records: usize) -> bool {
        self.offset + (payload_bytes + records * RECORD_HEADER_LEN) as u64 <= self.capacity
    }

    /// Writes the payloads as records and makes them durable with one `fdatasync`.
    pub fn append_durably(&mut self, payloads: &[Vec<u8>]) -> Result<(), StorageError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let total: usize = payloads.iter().map(|p| p.len() + RECORD_HEADER_LEN).sum();
        let mut buf = Vec::with_capacity(total);
        let gen = self.generation.to_le_bytes();
        for p in payloads {
            let len = (p.len() as u32).to_le_bytes();
            buf.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
            buf.extend_from_slice(&gen);
            buf.extend_from_slice(&len);
            buf.extend_from_slice(&check(&[&gen, &len, p]));
            buf.extend_from_slice(p);
        }
        let end = self.offset + buf.len() as u64;
        if end > self.zeroed_to {
            // Grow in whole chunks of zeros (capped at the capacity), so that only the sync after
            // a growth commits a new file size; the records of the next chunk overwrite zeros.
            let to = end.div_ceil(GROW_CHUNK).saturating_mul(GROW_CHUNK).min(self.capacity).max(end);
            write_zeros(&self.file, self.zeroed_to, to)?;
            self.zeroed_to = to;
        }
        self.file.write_all_at(&buf, self.offset)?;
        self.file.sync_data()?;
        self.offset = end;
        Ok(())
    }
}

/// Writes zeros over `[from, to)` of the file (real writes, not `fallocate`: ext4 keeps
/// allocated-but-unwritten extents, whose first write is a metadata change every sync commits).
fn write_zeros(file: &File, from: u64, to: u64) -> Result<(), StorageError> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(zeros.len());
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

fn fault(what: &str) -> StorageError {
    StorageError::Fault(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: u8) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(vec![n, 1], vec![n; 10]);
        b.delete(vec![n, 2]);
        b
    }

    #[test]
    fn batches_round_trip() {
        let b = batch(3);
        let back = decode_batch(&encode_batch(&b)).unwrap();
        assert_eq!(back.ops(), b.ops());
        assert!(decode_batch(&encode_batch(&b)[..5]).is_none());
    }

    #[test]
    fn records_of_the_live_generation_replay_until_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        {
            let (mut j, live) = Journal::open(&path, 1 << 16).unwrap();
            assert!(live.is_empty());
            j.append_durably(&[encode_batch(&batch(1)), encode_batch(&batch(2))]).unwrap();
            j.append_durably(&[encode_batch(&batch(3))]).unwrap();
        }
        let (_, live) = Journal::open(&path, 1 << 16).unwrap();
        assert_eq!(live.len(), 3);
        assert_eq!(decode_batch(&live[2]).unwrap().ops(), batch(3).ops());

        // Tear the last record: it and only it is dropped.
        let f = File::options().write(true).open(&path).unwrap();
        let last_payload_at = HEADER_LEN
            + 2 * (RECORD_HEADER_LEN as u64 + encode_batch(&batch(1)).len() as u64)
            + RECORD_HEADER_LEN as u64;
        f.write_all_at(&[0xEE], last_payload_at + 3).unwrap();
        let (mut j, live) = Journal::open(&path, 1 << 16).unwrap();
        assert_eq!(live.len(), 2);

        // A new generation makes all earlier records dead.
        j.write_header(j.generation() + 1, 3).unwrap();
        let (_, live) = Journal::open(&path, 1 << 16).unwrap();
        assert!(live.is_empty());

        // So does retiring, which also records the batch the main store now holds.
        let (mut j, _) = Journal::open(&path, 1 << 16).unwrap();
        let generation = j.generation();
        j.append_durably(&[encode_batch(&batch(4))]).unwrap();
        assert_eq!(Journal::open(&path, 1 << 16).unwrap().1.len(), 1);
        j.retire(9).unwrap();
        let (j, live) = Journal::open(&path, 1 << 16).unwrap();
        assert!(live.is_empty());
        assert_eq!((j.generation(), j.durable_seq()), (0, 9));
        assert!(generation > 0);
    }

    #[test]
    fn a_damaged_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        drop(Journal::open(&path, 1 << 16).unwrap());
        File::options().write(true).open(&path).unwrap().write_all_at(&[9], 9).unwrap();
        assert!(Journal::open(&path, 1 << 16).is_err());
    }
}
