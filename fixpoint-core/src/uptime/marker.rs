//! A self-healing cooldown marker: the only question it answers is whether the cooldown is
//! active ([`is_active`](Cooldown::is_active), [`remaining`](Cooldown::remaining)); the
//! timestamp comparison lives here, once, and no API answers "does the marker exist".
//!
//! [`Cooldown`] holds it in process; [`CooldownFile`] shares it between processes through a
//! file whose format is private and written atomically (write, then rename). A marker file
//! whose content cannot be read is expired, loudly: a counter, and with the `tracing`
//! feature a warning, never "active forever".

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A cooldown in this process: active from [`start`](Self::start) for the given duration, then
/// over by itself.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::uptime::Cooldown;
///
/// let cooldown = Cooldown::new();
/// assert!(!cooldown.is_active());
/// cooldown.start(Duration::from_secs(60));
/// assert!(cooldown.is_active());
/// assert!(cooldown.remaining().unwrap() <= Duration::from_secs(60));
/// ```
#[derive(Debug, Default)]
pub struct Cooldown {
    until: Mutex<Option<Instant>>,
}

impl Cooldown {
    /// An inactive cooldown.
    #[must_use]
    pub const fn new() -> Self {
        Cooldown {
            until: Mutex::new(None),
        }
    }

    /// Activates the cooldown for `length` from now (replacing any running one).
    pub fn start(&self, length: Duration) {
        *self.lock() = Instant::now().checked_add(length);
    }

    /// Ends the cooldown now.
    pub fn end(&self) {
        *self.lock() = None;
    }

    /// Whether the cooldown is active: the only question a consumer asks.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.remaining().is_some()
    }

    /// How long the cooldown has left; `None` when it is not active.
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        let until = (*self.lock())?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.until.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A cooldown shared between processes through a file: each process opens the same path and
/// asks [`is_active`](Self::is_active); the cooldown ends when its time is up, without anyone
/// deleting the file.
///
/// The file holds the wall-clock end of the cooldown and its length, in a private format,
/// replaced atomically (written beside it, then renamed over it): a reader sees the old
/// marker or the new one, never half of one. A marker that cannot be read (garbled, or
/// unreadable) is expired, counted in [`unreadable`](Self::unreadable) and, with the
/// `tracing` feature, warned about. A clock set back cannot stretch a cooldown past its
/// length.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::uptime::CooldownFile;
///
/// let path = std::env::temp_dir().join(format!("fixpoint-doc-{}.cooldown", std::process::id()));
/// let cooldown = CooldownFile::open(&path).unwrap();
/// cooldown.start(Duration::from_secs(60)).unwrap();
/// // Any process that opens the same path agrees.
/// assert!(CooldownFile::open(&path).unwrap().is_active());
/// cooldown.end().unwrap();
/// assert!(!cooldown.is_active());
/// ```
#[derive(Debug)]
pub struct CooldownFile {
    path: PathBuf,
    unreadable: AtomicU64,
    /// A hash of the last unreadable content, so a consumer asking every second warns once
    /// per bad marker, not once per question; `0` after a good read.
    last_unreadable: AtomicU64,
}

/// The first line of a marker file: a file without it is not a marker.
const MAGIC: &str = "fixpoint-cooldown 1";
/// The last line: a file without it was cut short.
const END: &str = "end";

static TEMP_FILES: AtomicU64 = AtomicU64::new(0);

impl CooldownFile {
    /// The marker at `path`; the file itself may or may not exist yet (no file: inactive).
    ///
    /// # Errors
    ///
    /// [`MarkerError::MissingDirectory`] when the directory that would hold it does not
    /// exist: every write would fail, and every read would say "inactive".
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, MarkerError> {
        let path = path.into();
        let directory = directory_of(&path);
        if !directory.is_dir() {
            return Err(MarkerError::MissingDirectory { path, directory });
        }
        Ok(CooldownFile {
            path,
            unreadable: AtomicU64::new(0),
            last_unreadable: AtomicU64::new(0),
        })
    }

    /// The marker's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Activates the cooldown for `length` from now, for every process that reads this path.
    ///
    /// # Errors
    ///
    /// [`MarkerError::Write`] when the marker cannot be written or renamed into place.
    pub fn start(&self, length: Duration) -> Result<(), MarkerError> {
        let until = wall_millis().saturating_add(millis(length));
        self.replace(&format!("{MAGIC}\n{until}\n{}\n{END}\n", millis(length)))
    }

    /// Ends the cooldown now, for every process (an expired marker replaces it).
    ///
    /// # Errors
    ///
    /// [`MarkerError::Write`] when the marker cannot be written or renamed into place.
    pub fn end(&self) -> Result<(), MarkerError> {
        self.replace(&format!("{MAGIC}\n0\n0\n{END}\n"))
    }

    /// Whether the cooldown is active: the only question a consumer asks.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.remaining().is_some()
    }

    /// How long the cooldown has left; `None` when it is not active: no marker, an expired
    /// one, or one that cannot be read (counted, and warned about with `tracing`).
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => return self.unreadable_marker(&error.to_string(), &error.to_string()),
        };
        let Some((until, length)) = parse(&text) else {
            return self.unreadable_marker("not a whole cooldown marker", &text);
        };
        self.last_unreadable.store(0, Ordering::Relaxed);
        let left = until.saturating_sub(wall_millis()).min(length);
        (left > 0).then(|| Duration::from_millis(left))
    }

    /// How many unreadable markers this handle found and treated as expired (each bad
    /// content once, however often it was asked about).
    #[must_use]
    pub fn unreadable(&self) -> u64 {
        self.unreadable.load(Ordering::Relaxed)
    }

    fn unreadable_marker(&self, why: &str, content: &str) -> Option<Duration> {
        let hash = {
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(content, &mut hasher);
            std::hash::Hasher::finish(&hasher) | 1
        };
        if self.last_unreadable.swap(hash, Ordering::Relaxed) == hash {
            return None; // this bad marker was reported already
        }
        self.unreadable.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::warn!(
            path = %self.path.display(),
            why,
            "cooldown marker cannot be read; treated as expired"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = why;
        None
    }

    /// Writes `content` beside the marker, then renames it over the marker.
    fn replace(&self, content: &str) -> Result<(), MarkerError> {
        let temp = self.path.with_file_name(format!(
            ".{}.{}-{}.tmp",
            self.path
                .file_name()
                .map_or_else(Default::default, |name| name.to_string_lossy()),
            std::process::id(),
            TEMP_FILES.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::File::create(&temp)
            .and_then(|mut file| file.write_all(content.as_bytes()))
            .and_then(|()| std::fs::rename(&temp, &self.path));
        written.map_err(|source| {
            let _ = std::fs::remove_file(&temp);
            MarkerError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }
}

/// The end (wall-clock milliseconds) and the length of the cooldown a marker holds.
fn parse(text: &str) -> Option<(u64, u64)> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let until = lines.next()?.parse().ok()?;
    let length = lines.next()?.parse().ok()?;
    let whole = lines.next()? == END && lines.next().is_none() && text.ends_with('\n');
    whole.then_some((until, length))
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// A cooldown marker that cannot be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarkerError {
    /// The directory that would hold the marker does not exist.
    #[error(
        "the cooldown marker {path:?} is in {directory:?}, which does not exist; create the \
         directory first, or put the marker in one that exists"
    )]
    MissingDirectory {
        /// The marker's path.
        path: PathBuf,
        /// Its directory.
        directory: PathBuf,
    },
    /// The marker could not be written or renamed into place.
    #[error(
        "cannot write the cooldown marker {path:?}: {source}; the process needs write access \
         to its directory"
    )]
    Write {
        /// The marker's path.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_set_back_cannot_stretch_a_cooldown_past_its_length() {
        let path =
            std::env::temp_dir().join(format!("fixpoint-clock-{}.cooldown", std::process::id()));
        let cooldown = CooldownFile::open(&path).unwrap();
        // As if written before the wall clock was set back ten hours.
        let until = wall_millis() + 10 * 3_600_000;
        cooldown
            .replace(&format!("{MAGIC}\n{until}\n60000\n{END}\n"))
            .unwrap();
        let left = cooldown.remaining().unwrap();
        assert!(left <= Duration::from_secs(60), "{left:?}");
        let _ = std::fs::remove_file(&path);
    }
}
