//! The chunk log: metric chunk payloads kept out of sled.
//!
//! sled holds small values well and large ones badly: a leaf of 16 chunk values (~20 KB
//! each) is rewritten whole every tenth append, its segments are cleaned only when at most
//! half live (up to 50 % garbage by design), and its page cache keeps at least one leaf per
//! LRU shard resident, so a long history read grows the server by ~180 MiB (see
//! BENCHMARKS.md). So a sealed chunk (one no later write will rewrite) is appended here, and
//! sled keeps only a 25-byte [`ChunkRef`] to it in `metric_chunks`.
//!
//! Layout: `<store>/chunks/NNNNNNNN.chunks`, segment files appended one after another. A
//! record is `magic (4) · payload length (u32 LE) · CRC-32 of the payload (u32 LE) ·
//! payload`. Records are never rewritten; a segment is deleted once nothing refers to it
//! (`trackd gc`).
//!
//! Durability, in the committer's order: records are written with `pwrite` as a group is
//! applied (so a killed process loses nothing the kernel has); at the group's end the active
//! segment is `fdatasync`ed and its length, the *synced mark* ([`Mark`]), is put in sled's
//! `meta` tree, and only then does sled's flush make the group (references and mark
//! together) durable and the group is acknowledged. A full segment is synced before the next
//! is begun. So everything up to the mark is durable and acknowledged, and anything past it
//! was never acknowledged: [`ChunkLog::open`] cuts it (no scan, and no guessing between a
//! torn write and a damaged one), and the store then drops references into what was cut.
//! A segment *shorter* than its mark was damaged after the fact, and the store refuses to
//! open. A damaged record inside the mark is found by its CRC when read, and reported.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::StoreError;

/// Bytes before a record's payload.
const HEADER: u64 = 12;
const MAGIC: [u8; 4] = *b"tkc1";
/// A segment is closed once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 << 20;
/// The largest payload a record may hold (a chunk is far smaller).
const MAX_PAYLOAD: u32 = 16 << 20;

/// Where one chunk's payload lies, kept in sled in place of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// The segment file's number.
    pub segment: u32,
    /// The record's first byte in the segment.
    pub offset: u64,
    /// The payload's length.
    pub len: u32,
    /// CRC-32 of the payload.
    pub crc: u32,
    /// Points in the chunk (so a writer never reads the payload to count them).
    pub count: u32,
}

impl ChunkRef {
    /// The tag byte that opens an encoded reference. Inline chunks open with their format
    /// version (2), so the two never meet.
    pub const TAG: u8 = 0xC7;
    /// Encoded size.
    pub const ENCODED_LEN: usize = 25;

    /// `tag · segment (u32 BE) · offset (u64 BE) · len · crc · count (u32 BE each)`.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[0] = Self::TAG;
        out[1..5].copy_from_slice(&self.segment.to_be_bytes());
        out[5..13].copy_from_slice(&self.offset.to_be_bytes());
        out[13..17].copy_from_slice(&self.len.to_be_bytes());
        out[17..21].copy_from_slice(&self.crc.to_be_bytes());
        out[21..25].copy_from_slice(&self.count.to_be_bytes());
        out
    }

    /// Decodes a value that opens with [`Self::TAG`]; `None` if it is not a reference.
    pub fn decode(bytes: &[u8]) -> Option<ChunkRef> {
        if bytes.len() != Self::ENCODED_LEN || bytes[0] != Self::TAG {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        Some(ChunkRef {
            segment: u32_at(1),
            offset: u64::from_be_bytes(bytes[5..13].try_into().expect("8 bytes")),
            len: u32_at(13),
            crc: u32_at(17),
            count: u32_at(21),
        })
    }

    /// The first byte past the record.
    pub fn end(&self) -> u64 {
        self.offset + HEADER + u64::from(self.len)
    }
}

/// How far the log is synced: the active segment's number and length when it was last
/// synced. Kept in sled (`meta`), made durable by the same flush as the references.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    /// The segment.
    pub segment: u32,
    /// Its synced length.
    pub len: u64,
}

impl Mark {
    /// `segment (u32 BE) · length (u64 BE)`.
    pub fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..4].copy_from_slice(&self.segment.to_be_bytes());
        out[4..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    /// Decodes [`Self::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Option<Mark> {
        let bytes: [u8; 12] = bytes.try_into().ok()?;
        Some(Mark {
            segment: u32::from_be_bytes(bytes[..4].try_into().ok()?),
            len: u64::from_be_bytes(bytes[4..].try_into().ok()?),
        })
    }
}

/// What opening the log cut (writes past the synced mark, never acknowledged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from the end of the marked segment.
    pub cut_bytes: u64,
    /// Segments begun after the mark, removed.
    pub cut_segments: u64,
}

struct Active {
    id: u32,
    file: Arc<File>,
    len: u64,
    /// Written since the last sync.
    dirty: bool,
}

/// The segment files of one store; appends come from the committer thread, reads from any.
pub struct ChunkLog {
    dir: PathBuf,
    segment_bytes: u64,
    segments: RwLock<BTreeMap<u32, Arc<File>>>,
    active: Mutex<Active>,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(libc::ENOSPC) {
        return StoreError::DiskFull;
    }
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        return StoreError::PermissionDenied {
            path: path.to_path_buf(),
        };
    }
    StoreError::Sled(format!("chunk log: {what} {}: {e}", path.display()))
}

fn segment_name(id: u32) -> String {
    format!("{id:08}.chunks")
}

fn segment_id(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".chunks")?;
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl ChunkLog {
    /// Opens (creating if needed) the log in `dir`, cutting what lies past `mark` (the
    /// synced mark sled holds; `None` for a store that never synced the log).
    pub fn open(dir: &Path, mark: Option<Mark>) -> Result<(ChunkLog, Recovery), StoreError> {
        Self::open_with(dir, mark, SEGMENT_BYTES)
    }

    /// [`Self::open`] with a segment size of `segment_bytes` (tests roll small segments).
    pub fn open_with(
        dir: &Path,
        mark: Option<Mark>,
        segment_bytes: u64,
    ) -> Result<(ChunkLog, Recovery), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("cannot create", dir, e))?;
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io_err("cannot list", dir, e))? {
            let entry = entry.map_err(|e| io_err("cannot list", dir, e))?;
            if let Some(id) = segment_id(&entry.file_name().to_string_lossy()) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mark = mark.unwrap_or(Mark { segment: 1, len: 0 });
        let mut recovery = Recovery::default();
        // Segments begun after the mark hold only writes never acknowledged.
        for &id in ids.iter().filter(|id| **id > mark.segment) {
            let path = dir.join(segment_name(id));
            std::fs::remove_file(&path).map_err(|e| io_err("cannot remove", &path, e))?;
            recovery.cut_segments += 1;
        }
        ids.retain(|id| *id <= mark.segment);
        let active_path = dir.join(segment_name(mark.segment));
        if ids.last() != Some(&mark.segment) && mark.len > 0 {
            return Err(StoreError::Corrupted(format!(
                "the chunk log segment {} is corrupted: it is missing",
                active_path.display()
            )));
        }
        let mut segments = BTreeMap::new();
        for &id in ids.iter().filter(|id| **id < mark.segment) {
            let path = dir.join(segment_name(id));
            let file = File::open(&path).map_err(|e| io_err("cannot open", &path, e))?;
            segments.insert(id, Arc::new(file));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&active_path)
            .map_err(|e| io_err("cannot open", &active_path, e))?;
        let on_disk = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &active_path, e))?
            .len();
        if on_disk < mark.len {
            return Err(StoreError::Corrupted(format!(
                "the chunk log segment {} is corrupted: it holds {on_disk} bytes but {} were \
                 synced",
                active_path.display(),
                mark.len
            )));
        }
        if on_disk > mark.len {
            file.set_len(mark.len)
                .map_err(|e| io_err("cannot truncate", &active_path, e))?;
            file.sync_all()
                .map_err(|e| io_err("cannot sync", &active_path, e))?;
            recovery.cut_bytes = on_disk - mark.len;
        }
        sync_dir(dir)?;
        let file = Arc::new(file);
        segments.insert(mark.segment, file.clone());
        Ok((
            ChunkLog {
                dir: dir.to_path_buf(),
                segment_bytes,
                segments: RwLock::new(segments),
                active: Mutex::new(Active {
                    id: mark.segment,
                    file,
                    len: mark.len,
                    dirty: false,
                }),
            },
            recovery,
        ))
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one chunk's payload (written, not yet synced) and returns where it lies.
    pub fn append(&self, payload: &[u8], count: u32) -> Result<ChunkRef, StoreError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l <= MAX_PAYLOAD)
            .ok_or_else(|| StoreError::Sled("chunk log: a chunk is too large".into()))?;
        let mut active = self.active.lock().expect("chunk log lock");
        let record = HEADER + u64::from(len);
        if active.len > 0 && active.len + record > self.segment_bytes {
            self.roll(&mut active)?;
        }
        let crc = crc32fast::hash(payload);
        let mut bytes = Vec::with_capacity(record as usize);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes.extend_from_slice(payload);
        let offset = active.len;
        if let Err(e) = active.file.write_all_at(&bytes, offset) {
            // Leave no partial record behind the next append.
            let _ = active.file.set_len(offset);
            return Err(io_err("cannot write", &self.segment_path(active.id), e));
        }
        active.len += record;
        active.dirty = true;
        Ok(ChunkRef {
            segment: active.id,
            offset,
            len,
            crc,
            count,
        })
    }

    /// Closes the full active segment (synced) and starts the next.
    fn roll(&self, active: &mut Active) -> Result<(), StoreError> {
        let old = self.segment_path(active.id);
        active
            .file
            .sync_data()
            .map_err(|e| io_err("cannot sync", &old, e))?;
        let id = active
            .id
            .checked_add(1)
            .ok_or_else(|| StoreError::Sled("chunk log: out of segment numbers".into()))?;
        let path = self.segment_path(id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err("cannot create", &path, e))?;
        sync_dir(&self.dir)?;
        let file = Arc::new(file);
        self.segments
            .write()
            .expect("chunk log segments lock")
            .insert(id, file.clone());
        *active = Active {
            id,
            file,
            len: 0,
            dirty: false,
        };
        Ok(())
    }

    /// Makes every append so far durable (`fdatasync` of the active segment) and returns
    /// the new synced mark, or `None` if nothing was appended since the last sync.
    pub fn sync(&self) -> Result<Option<Mark>, StoreError> {
        let mut active = self.active.lock().expect("chunk log lock");
        if !active.dirty {
            return Ok(None);
        }
        active
            .file
            .sync_data()
            .map_err(|e| io_err("cannot sync", &self.segment_path(active.id), e))?;
        active.dirty = false;
        Ok(Some(Mark {
            segment: active.id,
            len: active.len,
        }))
    }

    /// The mark of everything appended so far (synced or not).
    #[cfg(test)]
    pub fn mark(&self) -> Mark {
        let active = self.active.lock().expect("chunk log lock");
        Mark {
            segment: active.id,
            len: active.len,
        }
    }

    /// Reads one chunk's payload, checking it against its reference.
    pub fn read(&self, chunk: &ChunkRef) -> Result<Vec<u8>, StoreError> {
        let file = self
            .segments
            .read()
            .expect("chunk log segments lock")
            .get(&chunk.segment)
            .cloned()
            .ok_or_else(|| {
                StoreError::Corrupted(format!(
                    "the chunk log in {} is corrupted: segment {} is missing",
                    self.dir.display(),
                    segment_name(chunk.segment)
                ))
            })?;
        let mut record = vec![0u8; (HEADER + u64::from(chunk.len)) as usize];
        let path = self.segment_path(chunk.segment);
        file.read_exact_at(&mut record, chunk.offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.damaged(chunk, "it ends before the record")
            } else {
                io_err("cannot read", &path, e)
            }
        })?;
        let header = parse_header(&record[..HEADER as usize]);
        if header != Some((chunk.len, chunk.crc)) {
            return Err(self.damaged(chunk, "the record's header does not match"));
        }
        record.drain(..HEADER as usize);
        if crc32fast::hash(&record) != chunk.crc {
            return Err(self.damaged(chunk, "the payload's checksum does not match"));
        }
        Ok(record)
    }

    fn damaged(&self, chunk: &ChunkRef, why: &str) -> StoreError {
        StoreError::Corrupted(format!(
            "the chunk log segment {} is corrupted: the record at offset {} is damaged ({why})",
            self.segment_path(chunk.segment).display(),
            chunk.offset
        ))
    }

    /// Whether a reference points at a record the log holds (its segment exists and is long
    /// enough); the payload is not read.
    #[cfg(test)]
    pub fn holds(&self, chunk: &ChunkRef) -> Result<bool, StoreError> {
        Ok(self
            .segment_len(chunk.segment)?
            .is_some_and(|len| chunk.end() <= len))
    }

    /// The length of a segment (the active one: as far as appended), `None` if there is no
    /// such segment.
    pub fn segment_len(&self, segment: u32) -> Result<Option<u64>, StoreError> {
        {
            let active = self.active.lock().expect("chunk log lock");
            if segment == active.id {
                return Ok(Some(active.len));
            }
        }
        let Some(file) = self
            .segments
            .read()
            .expect("chunk log segments lock")
            .get(&segment)
            .cloned()
        else {
            return Ok(None);
        };
        let len = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &self.segment_path(segment), e))?
            .len();
        Ok(Some(len))
    }

    /// The active segment's number.
    pub fn active_segment(&self) -> u32 {
        self.active.lock().expect("chunk log lock").id
    }

    /// Deletes every segment numbered below `below` that is not in `referenced`; returns
    /// (files, bytes) freed. `below` is the active segment from before the references were
    /// gathered: only the active segment takes new records, so a segment below it that no
    /// gathered reference names can gain none while the references are read.
    pub fn remove_unreferenced(
        &self,
        referenced: &std::collections::BTreeSet<u32>,
        below: u32,
    ) -> Result<(u64, u64), StoreError> {
        let active = self.active_segment();
        let mut segments = self.segments.write().expect("chunk log segments lock");
        let doomed: Vec<u32> = segments
            .keys()
            .copied()
            .filter(|id| *id < below.min(active) && !referenced.contains(id))
            .collect();
        let mut freed = (0, 0);
        for id in doomed {
            let path = self.segment_path(id);
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&path).map_err(|e| io_err("cannot remove", &path, e))?;
            segments.remove(&id);
            freed = (freed.0 + 1, freed.1 + bytes);
        }
        if freed.0 > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(freed)
    }

    /// Copies every segment (as long as it is now) into `dest` (created). Called between two
    /// write groups, after a sync whose mark the copied database holds, so the copy holds
    /// every record the database refers to.
    pub fn copy_to(&self, dest: &Path) -> Result<(u64, u64), StoreError> {
        std::fs::create_dir_all(dest).map_err(|e| io_err("cannot create", dest, e))?;
        let active = self.active.lock().expect("chunk log lock");
        let segments = self.segments.read().expect("chunk log segments lock");
        let mut copied = (0, 0);
        for &id in segments.keys() {
            let (from, to) = (self.segment_path(id), dest.join(segment_name(id)));
            let bytes = if id == active.id {
                copy_prefix(&from, &to, active.len)
            } else {
                std::fs::copy(&from, &to)
            }
            .map_err(|e| io_err("cannot copy", &from, e))?;
            copied = (copied.0 + 1, copied.1 + bytes);
        }
        sync_dir(dest)?;
        Ok(copied)
    }

    fn segment_path(&self, id: u32) -> PathBuf {
        self.dir.join(segment_name(id))
    }
}

/// Files and bytes of the chunk log in `dir` (for usage reports); nothing if there is none.
pub fn disk_usage(dir: &Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .flatten()
        .filter(|e| segment_id(&e.file_name().to_string_lossy()).is_some())
        .filter_map(|e| e.metadata().ok())
        .fold((0, 0), |(files, bytes), m| (files + 1, bytes + m.len()))
}

fn parse_header(header: &[u8]) -> Option<(u32, u32)> {
    if header[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let crc = u32::from_le_bytes(header[8..12].try_into().ok()?);
    Some((len, crc))
}

fn copy_prefix(from: &Path, to: &Path, len: u64) -> std::io::Result<u64> {
    use std::io::Read;
    let source = File::open(from)?;
    let mut target = File::create(to)?;
    let copied = std::io::copy(&mut source.take(len), &mut target)?;
    target.sync_all()?;
    Ok(copied)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_round_trips_and_never_looks_like_an_inline_chunk() {
        let r = ChunkRef {
            segment: 7,
            offset: 1 << 40,
            len: 20_000,
            crc: 0xDEAD_BEEF,
            count: 4096,
        };
        assert_eq!(ChunkRef::decode(&r.encode()), Some(r));
        let mut inline = Vec::new();
        crate::store::series::chunk::encode(&[], &mut inline);
        assert_ne!(inline[0], ChunkRef::TAG);
        assert_eq!(ChunkRef::decode(&inline), None);
        assert_eq!(ChunkRef::decode(&r.encode()[..24]), None);
    }

    #[test]
    fn appended_chunks_read_back_across_segments_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let (log, recovery) = ChunkLog::open_with(dir.path(), None, 256).unwrap();
        assert_eq!(recovery, Recovery::default());
        let payloads: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 40 + i as usize]).collect();
        let refs: Vec<ChunkRef> = payloads
            .iter()
            .map(|p| log.append(p, p.len() as u32).unwrap())
            .collect();
        assert!(refs.last().unwrap().segment > 1, "small segments roll");
        for (r, p) in refs.iter().zip(&payloads) {
            assert_eq!(&log.read(r).unwrap(), p);
            assert!(log.holds(r).unwrap());
        }
        let mark = log.sync().unwrap().expect("appended since the last sync");
        assert_eq!(log.sync().unwrap(), None, "nothing new");
        assert_eq!(mark, log.mark());
        drop(log);
        let (log, recovery) = ChunkLog::open_with(dir.path(), Some(mark), 256).unwrap();
        assert_eq!(recovery, Recovery::default());
        for (r, p) in refs.iter().zip(&payloads) {
            assert_eq!(&log.read(r).unwrap(), p);
        }
        // Appends continue after the last record.
        let next = log.append(b"next", 1).unwrap();
        assert_eq!((next.segment, next.offset), (mark.segment, mark.len));
        assert_eq!(log.read(&next).unwrap(), b"next");
    }

    #[test]
    fn what_lies_past_the_synced_mark_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = ChunkLog::open_with(dir.path(), None, 300).unwrap();
        let kept = log.append(&[1u8; 100], 1).unwrap();
        let mark = log.sync().unwrap().unwrap();
        // Written after the last sync: the rest of this segment and a new one.
        let cut: Vec<ChunkRef> = (0..3)
            .map(|_| log.append(&[2u8; 100], 1).unwrap())
            .collect();
        assert!(cut.last().unwrap().segment > mark.segment);
        drop(log);
        let (log, recovery) = ChunkLog::open_with(dir.path(), Some(mark), 300).unwrap();
        assert_eq!(recovery.cut_segments, 1);
        assert!(recovery.cut_bytes >= 112, "{recovery:?}");
        assert_eq!(log.read(&kept).unwrap(), vec![1u8; 100]);
        assert!(cut.iter().all(|r| !log.holds(r).unwrap()));
        // The next record goes where the cut ones were.
        let again = log.append(&[3u8; 10], 1).unwrap();
        assert_eq!((again.segment, again.offset), (mark.segment, mark.len));
        assert_eq!(disk_usage(dir.path()).0, 1);
    }

    #[test]
    fn a_segment_shorter_than_its_mark_is_refused_not_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = ChunkLog::open(dir.path(), None).unwrap();
        let r = log.append(&[4u8; 100], 1).unwrap();
        let mark = log.sync().unwrap().unwrap();
        drop(log);
        let path = dir.path().join(segment_name(r.segment));
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(60)
            .unwrap();
        for _ in 0..2 {
            let err = ChunkLog::open(dir.path(), Some(mark))
                .err()
                .expect("refused");
            assert!(
                matches!(&err, StoreError::Corrupted(m) if m.contains("00000001.chunks")),
                "{err}"
            );
        }
        std::fs::remove_file(&path).unwrap();
        assert!(
            ChunkLog::open(dir.path(), Some(mark)).is_err(),
            "a missing segment"
        );
    }

    #[test]
    fn a_flipped_bit_is_a_clear_corruption_error() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = ChunkLog::open(dir.path(), None).unwrap();
        let r = log.append(&[9u8; 1000], 1).unwrap();
        let path = dir.path().join(segment_name(r.segment));
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&[0x08], r.offset + HEADER + 500).unwrap();
        let err = log.read(&r).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupted(m) if m.contains("checksum") && m.contains("00000001.chunks")),
            "{err}"
        );
    }

    #[test]
    fn unreferenced_closed_segments_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = ChunkLog::open_with(dir.path(), None, 100).unwrap();
        let refs: Vec<ChunkRef> = (0..6).map(|_| log.append(&[5u8; 80], 1).unwrap()).collect();
        let keep: std::collections::BTreeSet<u32> = [refs[2].segment].into();
        assert_eq!(log.remove_unreferenced(&keep, 1).unwrap(), (0, 0));
        let (files, bytes) = log
            .remove_unreferenced(&keep, log.active_segment())
            .unwrap();
        assert_eq!(files, 4, "six segments: one kept, the active one stays");
        assert_eq!(bytes, 4 * 92);
        assert_eq!(log.read(&refs[2]).unwrap(), vec![5u8; 80]);
        assert_eq!(log.read(&refs[5]).unwrap(), vec![5u8; 80]);
        assert!(matches!(log.read(&refs[0]), Err(StoreError::Corrupted(_))));
        assert_eq!(disk_usage(dir.path()), (2, 2 * 92));
    }
}
