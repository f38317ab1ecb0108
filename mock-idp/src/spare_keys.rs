//! Spare signing keys kept on disk for the next process.
//!
//! Generating an RSA-2048 key takes 40–300 ms (a prime search: the time varies from key to key),
//! and it is most of a fresh process's wait before its first JWKS or token. Every test binary
//! is a fresh process, so the key generator tops up a small directory of spare keys, and a
//! starting mock takes one from there instead. A spare is claimed by renaming it (atomic, so
//! two processes can never take the same file) and deleted once read: no key is ever used
//! twice, and mocks in different processes never share one, as they never do in one process.
//!
//! The directory is `$MOCK_IDP_KEY_CACHE`, else `$XDG_CACHE_HOME/mock-idp/spare-keys`, else
//! `$HOME/.cache/mock-idp/spare-keys`. `MOCK_IDP_KEY_CACHE=off` turns it off. It is used only
//! when nobody but its owner can read or write it (mode 0700, files 0600), and only on Unix.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::keys::SigningKey;

/// Spare keys kept on disk, at most.
pub(crate) const DISK_SPARES: usize = 4;
/// Leftovers of a process that died between claiming (or writing) a key and deleting it.
const LEFTOVER_AGE: Duration = Duration::from_secs(600);
const CLAIMED_PREFIX: &str = ".claimed-";
const WRITING_PREFIX: &str = ".writing-";

/// A directory of spare keys.
#[derive(Debug, Clone)]
pub(crate) struct SpareKeys {
    dir: PathBuf,
}

/// Distinct temporary names within this process.
static SEQUENCE: AtomicUsize = AtomicUsize::new(0);

impl SpareKeys {
    /// The directory the environment names (see the module docs); `None` when off.
    pub(crate) fn from_env() -> Option<Self> {
        if !cfg!(unix) {
            return None;
        }
        let dir = match std::env::var_os("MOCK_IDP_KEY_CACHE") {
            Some(v) if v == "off" || v.is_empty() => return None,
            Some(v) => PathBuf::from(v),
            None => {
                let cache = std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"))
                    })?;
                cache.join("mock-idp").join("spare-keys")
            }
        };
        Some(Self { dir })
    }

    #[cfg(test)]
    pub(crate) fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Takes one spare key, if there is a valid one; each is handed out once.
    pub(crate) fn take(&self) -> Option<SigningKey> {
        if !self.is_private() {
            return None;
        }
        for entry in std::fs::read_dir(&self.dir).ok()?.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".pem") {
                continue;
            }
            let claimed = self.dir.join(self.temporary_name(CLAIMED_PREFIX));
            if std::fs::rename(entry.path(), &claimed).is_err() {
                continue; // another process took it first
            }
            let key = read_private_file(&claimed).and_then(|pem| SigningKey::from_pem(&pem).ok());
            let _ = std::fs::remove_file(&claimed);
            if key.is_some() {
                return key;
            }
            tracing::warn!(
                file = name,
                "a spare key file was unreadable and is removed"
            );
        }
        None
    }

    /// Spare keys on disk now.
    pub(crate) fn count(&self) -> usize {
        std::fs::read_dir(&self.dir).map_or(0, |entries| {
            entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| !n.starts_with('.') && n.ends_with(".pem"))
                })
                .count()
        })
    }

    /// Adds a spare key (written whole under a temporary name, then renamed into view).
    pub(crate) fn put(&self, key: &SigningKey) -> io::Result<()> {
        self.create()?;
        self.remove_leftovers();
        let writing = self.dir.join(self.temporary_name(WRITING_PREFIX));
        let result = write_private_file(&writing, key.private_key_pem().as_bytes())
            .and_then(|()| std::fs::rename(&writing, self.dir.join(format!("{}.pem", key.kid()))));
        if result.is_err() {
            let _ = std::fs::remove_file(&writing);
        }
        result
    }

    fn temporary_name(&self, prefix: &str) -> String {
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{}-{n}", std::process::id())
    }

    /// The directory exists and only its owner may use it.
    fn is_private(&self) -> bool {
        std::fs::symlink_metadata(&self.dir).is_ok_and(|m| m.is_dir() && owner_only(&m))
    }

    fn create(&self) -> io::Result<()> {
        if !self.dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(&self.dir)?;
        }
        if self.is_private() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is not a directory only its owner can use (mode 0700)",
                    self.dir.display()
                ),
            ))
        }
    }

    fn remove_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = crate::clock::wall_clock();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > LEFTOVER_AGE));
            if old && (name.starts_with(CLAIMED_PREFIX) || name.starts_with(WRITING_PREFIX)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(unix)]
fn owner_only(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    m.permissions().mode() & 0o077 == 0
}

#[cfg(not(unix))]
fn owner_only(_: &std::fs::Metadata) -> bool {
    false
}

/// A regular file (not a link) only its owner can use.
fn read_private_file(path: &std::path::Path) -> Option<Vec<u8>> {
    let m = std::fs::symlink_metadata(path).ok()?;
    if !m.is_file() || !owner_only(&m) {
        return None;
    }
    std::fs::read(path).ok()
}

fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mock-idp-spare-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn each_spare_is_taken_once_and_leaves_the_directory() {
        let dir = scratch("once");
        let spares = SpareKeys::at(dir.join("nested"));
        assert!(spares.take().is_none(), "no directory yet");
        let keys = [
            SigningKey::generate().unwrap(),
            SigningKey::generate().unwrap(),
        ];
        for k in &keys {
            spares.put(k).unwrap();
        }
        let mode = std::fs::metadata(dir.join("nested"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(spares.count(), 2);
        let mut taken: Vec<String> = (0..2)
            .map(|_| spares.take().unwrap().kid().to_owned())
            .collect();
        taken.sort();
        let mut want: Vec<String> = keys.iter().map(|k| k.kid().to_owned()).collect();
        want.sort();
        assert_eq!(taken, want);
        assert!(spares.take().is_none());
        assert_eq!(std::fs::read_dir(dir.join("nested")).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn racing_takers_never_get_the_same_key() {
        let dir = scratch("race");
        let spares = SpareKeys::at(dir.clone());
        spares.put(&SigningKey::generate().unwrap()).unwrap();
        let takers: Vec<_> = (0..8)
            .map(|_| {
                let s = spares.clone();
                std::thread::spawn(move || s.take().is_some())
            })
            .collect();
        let won = takers
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|got| *got)
            .count();
        assert_eq!(won, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_others_can_use_is_ignored_and_bad_files_are_dropped() {
        let dir = scratch("open");
        let spares = SpareKeys::at(dir.clone());
        spares.put(&SigningKey::generate().unwrap()).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            spares.take().is_none(),
            "a directory others can read is not trusted"
        );
        assert!(spares.put(&SigningKey::generate().unwrap()).is_err());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

        let _ = std::fs::remove_dir_all(&dir);
        let spares = SpareKeys::at(dir.clone());
        spares.put(&SigningKey::generate().unwrap()).unwrap();
        std::fs::write(dir.join("broken.pem"), "not a key").unwrap();
        std::fs::set_permissions(
            dir.join("broken.pem"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert!(
            spares.take().is_some(),
            "the good key is found past the broken one"
        );
        assert!(spares.take().is_none());
        assert_eq!(spares.count(), 0, "the broken file is gone too");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
