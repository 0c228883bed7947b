//! Scratch SQLite files for the tests and the benches: one per name and process, never a
//! leftover of an earlier run.

use std::path::{Path, PathBuf};

/// A fresh path `fixpoint-<name>-<pid>.db` in the temporary directory, with no file (nor WAL,
/// nor shared memory) left there by an earlier run.
pub fn scratch_db(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("fixpoint-{name}-{}.db", std::process::id()));
    remove_db(&path);
    path
}

/// Removes the database at `path` with its `-wal` and `-shm` files.
pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
