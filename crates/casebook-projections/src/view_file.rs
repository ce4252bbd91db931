//! A keyed view saved to a file, and loaded back when the views open.
//!
//! The views live in memory (`view_tree`); their checkpoint is one of their
//! keys (`keys::CHECKPOINT_KEY`), so a saved file holds a view and the
//! position it has applied together, and loading it gives back exactly
//! that state: each event took effect once, and the worker replays the log
//! from the position after it. A file is written beside its final name,
//! synced, renamed over it and the directory synced, so the name always
//! holds a whole file: the one before or the one after. A file that is cut
//! short or damaged all the same fails its checksum and is not used (the
//! view is then built again from the log, which holds everything).
//!
//! Layout (all integers little-endian): the 8 bytes `CBVIEW01`; the number
//! of entries as a u64; each entry as its key's length (u32), the key, its
//! value's length (u32), the value, in key order; then the CRC-32
//! (ISO-HDLC, as `crc32fast` computes it) of every byte before it, as a u32.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sled::IVec;

use crate::error::{ProjectionError, Result};
use crate::view_tree::{Key, Map};

/// The first bytes of every view file (the format's version is its last two).
const MAGIC: &[u8; 8] = b"CBVIEW01";

/// The ending of a view file's name.
const EXTENSION: &str = "view";

/// Tells apart the temporary files of saves running at once (a worker
/// saving while the previous life of the same process still finishes one).
static SAVES: AtomicU64 = AtomicU64::new(0);

/// The directory holding the saved views, one file per view generation.
#[derive(Debug, Clone)]
pub struct ViewFiles {
    dir: PathBuf,
}

impl ViewFiles {
    /// The files under `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file of one generation of a view.
    pub fn path(&self, name: &str, version: u32, generation: u64) -> PathBuf {
        self.dir
            .join(format!("{name}.v{version}.g{generation}.{EXTENSION}"))
    }

    /// Removes every file of the directory but `keep`: generations no
    /// longer served, and temporary files of saves cut short.
    pub fn tidy(&self, keep: &[PathBuf]) -> Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let path = entry?.path();
            if !keep.contains(&path) {
                tracing::info!(file = %path.display(), "removing a view file no generation serves");
                remove(&path)?;
            }
        }
        Ok(())
    }
}

/// A save makes what it wrote durable every this many bytes, so that the
/// file's dirty pages never pile up: on ext4 (ordered data) the log's next
/// `fdatasync` commits the journal, which first writes out every dirty
/// block allocated since, and a whole view written at once stalled the
/// log's acknowledgements for as long as that took.
const SYNC_EVERY_BYTES: u64 = 16 << 20;

/// Writes `map` to `path`, whole or not at all (see the module docs).
pub fn save(path: &Path, map: &Map) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| ProjectionError::Transaction("a view file needs a directory".into()))?;
    std::fs::create_dir_all(dir)?;
    let save = SAVES.fetch_add(1, Ordering::Relaxed);
    let temporary = path.with_extension(format!("{EXTENSION}.{}-{save}.tmp", std::process::id()));
    let written = write(&temporary, map).and_then(|()| Ok(std::fs::rename(&temporary, path)?));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn write(path: &Path, map: &Map) -> Result<()> {
    let file = File::create(path)?;
    let mut out = Checksummed {
        inner: BufWriter::with_capacity(1 << 20, file),
        crc: crc32fast::Hasher::new(),
        written: 0,
    };
    out.write_all(MAGIC)?;
    out.write_all(&(map.len() as u64).to_le_bytes())?;
    let mut synced_up_to = 0;
    for (key, value) in map.iter() {
        for part in [&key[..], value.as_ref()] {
            let len = u32::try_from(part.len())
                .map_err(|_| ProjectionError::Transaction("a view value over 4 GiB".into()))?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(part)?;
        }
        if out.written - synced_up_to >= SYNC_EVERY_BYTES {
            out.inner.flush()?;
            out.inner.get_ref().sync_data()?;
            synced_up_to = out.written;
        }
    }
    let crc = out.crc.finalize();
    let mut inner = out.inner;
    inner.write_all(&crc.to_le_bytes())?;
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

/// A writer that keeps the CRC-32 and the length of what went through it.
struct Checksummed<W> {
    inner: W,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The view saved at `path`: `None` if there is no file, an error naming
/// what is wrong if the file is not a whole view file.
pub fn load(view: &'static str, path: &Path) -> Result<Option<Map>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let corrupt = |reason: &str| ProjectionError::Corrupt {
        view,
        reason: format!("{}: {reason}", path.display()),
    };
    let body_len = bytes
        .len()
        .checked_sub(4)
        .filter(|&n| n >= MAGIC.len() + 8)
        .ok_or_else(|| corrupt("shorter than a view file"))?;
    let (body, crc) = bytes.split_at(body_len);
    if !body.starts_with(MAGIC) {
        return Err(corrupt("not a view file of this version"));
    }
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(corrupt(
            "its checksum does not match (cut short or damaged)",
        ));
    }
    let mut reader = Reader {
        bytes: &body[MAGIC.len()..],
    };
    let count = reader.u64().ok_or_else(|| corrupt("no entry count"))?;
    let mut map = Map::new();
    for _ in 0..count {
        let (Some(key), Some(value)) = (reader.part(), reader.part()) else {
            return Err(corrupt("an entry runs past the end"));
        };
        map.insert(Key::from_slice(key), IVec::from(value));
    }
    if !reader.bytes.is_empty() || map.len() as u64 != count {
        return Err(corrupt("its entries do not match its count"));
    }
    Ok(Some(map))
}

/// Removes the file at `path`, if there is one.
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Reads a view file's body front to back.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn part(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        self.take(usize::try_from(len).ok()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn map(n: usize) -> Map {
        (0..n)
            .map(|i| {
                (
                    Key::from_slice(format!("key-{i:06}").as_bytes()),
                    IVec::from(vec![i as u8; i % 50]),
                )
            })
            .collect()
    }

    #[test]
    fn a_saved_view_loads_back_equal_and_replaces_the_file_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let files = ViewFiles::new(dir.path().join("views"));
        let path = files.path("cases", 3, 1);
        assert!(load("cases", &path).unwrap().is_none());
        save(&path, &map(1_000)).unwrap();
        save(&path, &map(2_000)).unwrap();
        assert_eq!(load("cases", &path).unwrap(), Some(map(2_000)));
        let names: Vec<_> = std::fs::read_dir(dir.path().join("views"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["cases.v3.g1.view"], "no temporary file is left");
    }

    #[test]
    fn a_file_cut_short_or_changed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("figures.v1.g0.view");
        save(&path, &map(500)).unwrap();
        let whole = std::fs::read(&path).unwrap();
        for damaged in [
            whole[..whole.len() - 1].to_vec(),
            whole[..whole.len() / 2].to_vec(),
            {
                let mut b = whole.clone();
                b[whole.len() / 3] ^= 1;
                b
            },
            Vec::new(),
        ] {
            std::fs::write(&path, &damaged).unwrap();
            let err = load("figures", &path).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProjectionError::Corrupt {
                        view: "figures",
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn tidy_keeps_only_the_files_it_is_told_to() {
        let dir = tempfile::tempdir().unwrap();
        let files = ViewFiles::new(dir.path());
        let kept = files.path("cases", 1, 2);
        save(&kept, &map(3)).unwrap();
        save(&files.path("cases", 1, 1), &map(3)).unwrap();
        std::fs::write(dir.path().join("cases.v1.g2.view.9-9.tmp"), b"half").unwrap();
        files.tidy(std::slice::from_ref(&kept)).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(names, vec![kept]);
        // No directory yet is nothing to tidy.
        ViewFiles::new(dir.path().join("none")).tidy(&[]).unwrap();
    }
}
