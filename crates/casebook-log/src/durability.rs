//! Making a flushed sled batch survive a power cut.
//!
//! sled 0.34.7's `flush` on Linux ends with `sync_file_range`, which pushes
//! pages to the device but neither flushes the device's cache nor syncs the
//! file's metadata, and sled never syncs the blob files it writes for large
//! nodes. So after every `flush` the writer calls [`DurableFiles::sync`],
//! which `fdatasync`s sled's main file, and `fsync`s any blob file (and the
//! blob directory) that appeared since the last sync. Only then is a batch
//! acknowledged.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Open handles on the files sled writes, so that syncing costs one syscall.
#[derive(Debug)]
pub(crate) struct DurableFiles {
    /// sled's main log file (`<dir>/db`); every tree update lands here.
    main_file: File,
    /// sled writes nodes larger than a quarter segment here, one file each.
    blob_dir: PathBuf,
    /// Blob files already synced, so each new one is synced exactly once.
    synced_blobs: HashSet<std::ffi::OsString>,
}

impl DurableFiles {
    /// Opens sled's files in `dir` and makes their directory entries durable.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let main_file = File::open(dir.join("db"))?;
        main_file.sync_all()?;
        if let Ok(conf) = File::open(dir.join("conf")) {
            conf.sync_all()?;
        }
        sync_dir(dir)?;
        let mut files = DurableFiles {
            main_file,
            blob_dir: dir.join("blobs"),
            synced_blobs: HashSet::new(),
        };
        files.sync_new_blobs()?;
        Ok(files)
    }

    /// Forces everything sled has flushed so far onto stable storage.
    pub fn sync(&mut self) -> io::Result<()> {
        self.main_file.sync_data()?;
        self.sync_new_blobs()
    }

    fn sync_new_blobs(&mut self) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.blob_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        let mut present = HashSet::new();
        let mut synced_any = false;
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            };
            let name = entry.file_name();
            if !self.synced_blobs.contains(&name) && sync_blob(&entry.path())? {
                synced_any = true;
            }
            present.insert(name);
        }
        // sled deletes a blob once the node in it is rewritten; forget those.
        self.synced_blobs = present;
        if synced_any {
            sync_dir(&self.blob_dir)?;
        }
        Ok(())
    }
}

/// Syncs one blob file; `false` when sled removed it between the directory
/// listing and the open (a removed blob holds nothing that must survive).
fn sync_blob(path: &Path) -> io::Result<bool> {
    match File::open(path).and_then(|file| file.sync_all()) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// Makes a directory's entries (files created or renamed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_removed_before_its_sync_is_skipped_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!sync_blob(&dir.path().join("gone")).unwrap());
        let kept = dir.path().join("kept");
        std::fs::write(&kept, b"node").unwrap();
        assert!(sync_blob(&kept).unwrap());
    }
}
