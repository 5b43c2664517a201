//! Where profiles live on disk.

use std::path::{Path, PathBuf};

use super::{Error, record};

/// The data directory's sub-directory of profiles.
pub(crate) const PROFILES_DIR: &str = "profiles";
/// A profile's metadata file.
pub(crate) const META_FILE: &str = "profile.json";

/// The default data directory: `PASSBRIDGE_DATA_DIR`, `$XDG_DATA_HOME/passbridge`, or
/// `~/.local/share/passbridge`.
///
/// # Errors
/// [`Error::NoDataDir`] when none of those variables is set.
pub fn default_data_dir() -> Result<PathBuf, Error> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("PASSBRIDGE_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("passbridge"));
    }
    var("HOME")
        .or_else(|| var("USERPROFILE"))
        .map(|home| PathBuf::from(home).join(".local/share/passbridge"))
        .ok_or(Error::NoDataDir)
}

/// Writes `name` in `dir` atomically and readable only by this user, creating `dir` (also
/// private) if needed: for the app's own small files next to the profiles.
///
/// # Errors
/// The file system's error.
pub fn write_private_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    record::create_private_dir(dir)?;
    record::write_atomic(dir, name, bytes)
}
