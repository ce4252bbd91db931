//! Making a new file's directory entry survive a power cut.
//!
//! The records file ([`crate::records`]) is the only file an acknowledgement
//! waits for; its contents are made durable by its own `fdatasync`. Its
//! name in the directory is made durable once, when the file is created.
//! sled's files are never synced on the append path: they hold indexes that
//! are rebuilt from the records file when they lag ([`crate::recovery`]).

use std::fs::File;
use std::io;
use std::path::Path;

/// Makes a directory's entries (files created or renamed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
