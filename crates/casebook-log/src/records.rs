//! The records file: every record of the log, in commit order, and the
//! only thing an acknowledgement waits for.
//!
//! Each group commit appends one *group* to `<dir>/records`: an 8-byte
//! header (the body's length, a big-endian `u64`) and the body, the group's
//! record blocks back to back, each record framed as `[u32 length][record]`
//! (the stored bytes of [`crate::record`]). The syncer writes every group
//! decided since its last round with one `pwrite` at the file's end and makes
//! it durable with one `fdatasync`; only then are the group's appends
//! answered.
//!
//! The file is kept [`RESERVE_BYTES`] of zeros ahead of its records (written
//! and synced with the round that reaches into them): a round then writes
//! over blocks the file already has, and its `fdatasync` flushes data
//! alone, where a round that grew the file also waited for the file
//! system's journal to commit the new length (under the command load on
//! a quiet host, about a tenth more commands per second; a busy host
//! hides it: `docs/PERFORMANCE.md`). A zero header reads as the end, so
//! the reserve is never taken for a group; a clean close cuts it off, and
//! recovery tells it from a torn group.
//!
//! sled holds the indexes only (stream heads and chunks, categories, event
//! types, and where each record block lies in this file); the event-id
//! index lives in memory ([`crate::known`]). All of them are derived from
//! this file and written without waiting for the disk: when the log opens,
//! every group past the last one sled holds is read back, checked and
//! indexed again ([`crate::recovery`]), and the ids are read from the file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file's name inside the log's directory.
pub(crate) const FILE_NAME: &str = "records";

/// Bytes of a group's header: its body's length.
pub(crate) const GROUP_HEADER_BYTES: u64 = 8;

/// Most bytes one group's body may claim: far above what a group writes
/// (16,384 events of at most a few hundred kilobytes each would not reach
/// it), so a larger claim can only be damage.
const GROUP_BODY_BYTES_MAX: u64 = 1 << 36;

/// Zeros written past the records at a time: a round that leaves fewer
/// than half of them ahead writes this many more past the reserve. The
/// round that writes them flushes them too, so a larger reserve makes
/// rarer but longer rounds: at 2 MiB the log's p99 at 64 writers rose by
/// about a millisecond, at 512 KiB it did not (`docs/PERFORMANCE.md`).
pub(crate) const RESERVE_BYTES: u64 = 512 << 10;

/// The open records file.
#[derive(Debug)]
pub(crate) struct RecordsFile {
    file: File,
    /// Whether opening created it (it did not exist).
    created: bool,
    path: std::path::PathBuf,
    /// The file's length as this process left it: the records, and the
    /// zeros reserved past them.
    reserved_end: AtomicU64,
}

/// What lies at an offset of the file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GroupRead {
    /// A whole group's body.
    Whole(Vec<u8>),
    /// The file ends here, or inside a group a crash cut short (a header of
    /// zeros counts as an end: a crash may leave a zero-filled tail).
    End,
}

impl RecordsFile {
    /// Opens (or creates) the records file in `dir`, making a new file's
    /// directory entry durable.
    pub(crate) fn open(dir: &Path) -> io::Result<RecordsFile> {
        let path = dir.join(FILE_NAME);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if !existed {
            file.sync_all()?;
            crate::durability::sync_dir(dir)?;
        }
        let reserved_end = AtomicU64::new(file.metadata()?.len());
        Ok(RecordsFile {
            file,
            created: !existed,
            path,
            reserved_end,
        })
    }

    /// Whether the file did not exist before it was opened.
    pub(crate) fn was_created(&self) -> bool {
        self.created
    }

    /// Removes the file again if opening created it (the log refuses to
    /// open, and must find it missing the next time too).
    pub(crate) fn discard_if_created(&self) -> io::Result<()> {
        if self.created {
            std::fs::remove_file(&self.path)?;
        }
        Ok(())
    }

    /// The file's length in bytes.
    pub(crate) fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// `len` bytes from `offset`; an error if the file is shorter.
    pub(crate) fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; len];
        self.file.read_exact_at(&mut bytes, offset)?;
        Ok(bytes)
    }

    /// From `offset`, `want` bytes or as many as the file holds, but at
    /// least `need` (an error if the file is shorter).
    /// Reads into `bytes`, reusing its memory.
    pub(crate) fn read_window(
        &self,
        bytes: &mut Vec<u8>,
        offset: u64,
        need: usize,
        want: usize,
    ) -> io::Result<()> {
        bytes.resize(want.max(need), 0);
        let mut filled = 0;
        while filled < bytes.len() {
            match self
                .file
                .read_at(&mut bytes[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if filled < need {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the records file ends inside a record block",
            ));
        }
        bytes.truncate(filled);
        Ok(())
    }

    /// Writes `bytes` at `offset` (the end of what is written), into the
    /// page cache: they survive the process, not yet a power cut. Writes
    /// [`RESERVE_BYTES`] of zeros past the reserve when fewer than half of
    /// them are left ahead (one writer at a time: the syncer, or a restore).
    pub(crate) fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, offset)?;
        let end = offset + bytes.len() as u64;
        let reserved_end = self.reserved_end.load(Ordering::Relaxed).max(end);
        if reserved_end - end < RESERVE_BYTES / 2 {
            let zeros = vec![0; RESERVE_BYTES as usize];
            self.file.write_all_at(&zeros, reserved_end)?;
            self.reserved_end
                .store(reserved_end + RESERVE_BYTES, Ordering::Relaxed);
        } else {
            self.reserved_end.store(reserved_end, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Waits until everything written is on stable storage.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// [`RecordsFile::write_at`], then [`RecordsFile::sync`].
    pub(crate) fn write_durably(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.write_at(offset, bytes)?;
        self.sync()
    }

    /// Cuts the file to `len` bytes, durably: what a crash left past the
    /// last whole group was never acknowledged, and a closed log keeps no
    /// reserve.
    pub(crate) fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()?;
        self.reserved_end.store(len, Ordering::Relaxed);
        Ok(())
    }

    /// How many bytes from `offset` up to the file's last non-zero byte
    /// (0 if only zeros follow it): what past `offset` is not the reserve.
    pub(crate) fn data_after(&self, offset: u64) -> io::Result<u64> {
        const STEP: u64 = 1 << 20;
        let mut end = self.len()?;
        while end > offset {
            let start = end.saturating_sub(STEP).max(offset);
            let block = self.read_at(start, (end - start) as usize)?;
            if let Some(last) = block.iter().rposition(|&byte| byte != 0) {
                return Ok(start + last as u64 + 1 - offset);
            }
            end = start;
        }
        Ok(0)
    }

    /// The group whose header starts at `offset`, if the file holds all of it.
    pub(crate) fn group_at(&self, offset: u64, file_len: u64) -> io::Result<GroupRead> {
        let body_start = offset + GROUP_HEADER_BYTES;
        if body_start > file_len {
            return Ok(GroupRead::End);
        }
        let header = self.read_at(offset, GROUP_HEADER_BYTES as usize)?;
        let body_len = u64::from_be_bytes(header.try_into().unwrap_or_default());
        if body_len == 0 || body_len > GROUP_BODY_BYTES_MAX || body_start + body_len > file_len {
            return Ok(GroupRead::End);
        }
        let body_len = usize::try_from(body_len).map_err(io::Error::other)?;
        Ok(GroupRead::Whole(self.read_at(body_start, body_len)?))
    }
}

/// Starts a group: the header, to be filled in by [`seal_group`].
pub(crate) fn begin_group(bytes: &mut Vec<u8>) {
    bytes.extend_from_slice(&[0; GROUP_HEADER_BYTES as usize]);
}

/// Writes the body's length into the header [`begin_group`] left.
pub(crate) fn seal_group(bytes: &mut [u8]) {
    let body_len = bytes.len() as u64 - GROUP_HEADER_BYTES;
    bytes[..GROUP_HEADER_BYTES as usize].copy_from_slice(&body_len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(body: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        begin_group(&mut bytes);
        bytes.extend_from_slice(body);
        seal_group(&mut bytes);
        bytes
    }

    #[test]
    fn groups_read_back_whole_and_a_cut_one_reads_as_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = RecordsFile::open(dir.path()).unwrap();
        let first = group(b"first body");
        let second = group(b"the second body");
        file.write_durably(0, &first).unwrap();
        file.write_durably(first.len() as u64, &second[..12])
            .unwrap();
        // The file as a crash in the middle of the second write left it.
        let len = first.len() as u64 + 12;
        assert_eq!(
            file.group_at(0, len).unwrap(),
            GroupRead::Whole(b"first body".to_vec())
        );
        assert_eq!(
            file.group_at(first.len() as u64, len).unwrap(),
            GroupRead::End
        );
        file.write_durably(first.len() as u64, &second).unwrap();
        assert_eq!(
            file.group_at(first.len() as u64, file.len().unwrap())
                .unwrap(),
            GroupRead::Whole(b"the second body".to_vec())
        );
        file.truncate(first.len() as u64).unwrap();
        assert_eq!(file.len().unwrap(), first.len() as u64);
    }

    #[test]
    fn a_zero_filled_tail_reads_as_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = RecordsFile::open(dir.path()).unwrap();
        file.write_durably(0, &[0; 64]).unwrap();
        assert_eq!(file.group_at(0, 64).unwrap(), GroupRead::End);
    }

    #[test]
    fn the_file_keeps_a_reserve_of_zeros_ahead_until_it_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let file = RecordsFile::open(dir.path()).unwrap();
        let first = group(b"first body");
        file.write_durably(0, &first).unwrap();
        let end = first.len() as u64;
        assert_eq!(file.len().unwrap(), end + RESERVE_BYTES);
        assert_eq!(
            file.group_at(end, file.len().unwrap()).unwrap(),
            GroupRead::End
        );
        assert_eq!(file.data_after(0).unwrap(), end);
        assert_eq!(file.data_after(end).unwrap(), 0, "only zeros follow");
        // Writes within the first half of the reserve take no more.
        let half = vec![1; (RESERVE_BYTES / 2) as usize - 1];
        file.write_at(end, &half).unwrap();
        assert_eq!(file.len().unwrap(), end + RESERVE_BYTES);
        assert_eq!(file.data_after(end).unwrap(), half.len() as u64);
        // Two bytes more leave less than half ahead: another reserve.
        file.write_at(end + half.len() as u64, &[2, 2]).unwrap();
        assert_eq!(file.len().unwrap(), end + 2 * RESERVE_BYTES);
        file.truncate(end).unwrap();
        assert_eq!(file.len().unwrap(), end);
        file.write_at(end, &[3]).unwrap();
        assert_eq!(
            file.len().unwrap(),
            end + 1 + RESERVE_BYTES,
            "a cut reserve is taken again"
        );
    }
}
