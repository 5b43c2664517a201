//! Administrator policy for profiles and vaults.
//!
//! A small TOML file, `/etc/passbridge/policy.toml` by default or the path in `PASSBRIDGE_POLICY`
//! (tests, managed deployments). Every key is optional; a missing system file means the
//! defaults. A *named* file that is missing or malformed is an error rather than a silent
//! fallback, because an admin who points Passbridge at a policy expects it to apply.
//!
//! ```toml
//! auto_lock_idle_secs = 900      # 0 disables auto-lock
//! allow_passphrase_only = false  # vault key wrapped only by the passphrase when no keychain
//! min_pin_length = 6
//! max_pin_failures = 10          # wrong PINs in a row before the profile blocks
//! argon2_memory_kib = 131072     # Argon2id cost for PIN/passphrase wrapping keys
//! argon2_iterations = 3
//! argon2_parallelism = 1
//! silent_presence_rps = []      # RP IDs the bridge may answer with presence but no prompt
//! bridge_max_prompts_per_minute = 10
//! start_at_login = true         # unset: each user chooses; true/false: forced on or off
//! ```
//!
//! Note that `PASSBRIDGE_POLICY` is honoured for anyone who can set the environment of the
//! process; it is a deployment convenience, not a security boundary against the local user.
//! It can tighten the PIN guessing limits (`max_pin_failures`, `min_pin_length`) below the
//! system file's, never loosen them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the system-wide policy lives unless `PASSBRIDGE_POLICY` names another file.
pub const SYSTEM_POLICY_PATH: &str = "/etc/passbridge/policy.toml";

/// Argon2id memory per PIN guess unless policy says otherwise: 128 MiB.
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 128 * 1024;
/// Argon2id passes per PIN guess unless policy says otherwise.
pub const DEFAULT_ARGON2_ITERATIONS: u32 = 3;
/// The most `max_pin_failures` may be: beyond it the limit no longer slows a guesser.
pub const MAX_PIN_FAILURES_LIMIT: u32 = 100;

/// Environment variable naming an alternative policy file.
pub const POLICY_ENV: &str = "PASSBRIDGE_POLICY";

/// Profile and vault policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Seconds of inactivity after which an unlocked PIN/passphrase profile locks again.
    /// 0 disables auto-lock.
    pub auto_lock_idle_secs: u64,
    /// Whether a profile may keep its vault key wrapped only by its passphrase (no keychain).
    /// Off by default: the OS keychain is the intended protection.
    pub allow_passphrase_only: bool,
    /// Minimum PIN/passphrase length in characters (for new PINs; existing ones still open).
    pub min_pin_length: usize,
    /// Wrong PINs in a row after which a profile blocks until an administrator lifts the block
    /// or the profile is deleted. The first three are free; each later one waits longer
    /// (30 s, doubling, at most an hour).
    pub max_pin_failures: u32,
    /// Argon2id memory cost in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id iterations.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// RP IDs (exact, e.g. "ssh:" for OpenSSH keys) for which the uhid bridge may grant user
    /// presence without showing a prompt. Never user verification. Empty by default: every
    /// request is shown.
    pub silent_presence_rps: Vec<String>,
    /// How many requests a minute the bridge shows; more are refused without a prompt, so a
    /// misbehaving program cannot flood the user with dialogs.
    pub bridge_max_prompts_per_minute: u32,
    /// Whether Passbridge starts at login, for everyone (`None`: each user's own setting).
    pub start_at_login: Option<bool>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            auto_lock_idle_secs: 900,
            allow_passphrase_only: false,
            min_pin_length: 6,
            max_pin_failures: 10,
            // Chosen by measurement (`cargo bench -p passbridge-core --bench pin_kdf`, numbers
            // in docs/benchmarks.md): 128 MiB and three passes cost about a quarter of a second
            // per guess on the 2-core build machine (OWASP's floor, 19 MiB and t = 2, costs
            // 16 ms there), because anyone in the OS account can copy the wrapped key and guess
            // offline.
            argon2_memory_kib: DEFAULT_ARGON2_MEMORY_KIB,
            argon2_iterations: DEFAULT_ARGON2_ITERATIONS,
            argon2_parallelism: 1,
            silent_presence_rps: Vec::new(),
            bridge_max_prompts_per_minute: 10,
            start_at_login: None,
        }
    }
}

/// Why the policy could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid policy TOML.
    #[error("invalid policy file {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: toml::de::Error,
    },
    /// The Argon2 parameters are out of range.
    #[error("invalid Argon2 parameters in policy")]
    Argon2(#[source] argon2::Error),
    /// A value outside what the key may be.
    #[error("policy: {key} must be {allowed}")]
    OutOfRange {
        /// The policy key.
        key: &'static str,
        /// What it may be.
        allowed: &'static str,
    },
}

impl Policy {
    /// Loads the policy from `PASSBRIDGE_POLICY` or [`SYSTEM_POLICY_PATH`].
    ///
    /// # Errors
    /// A named file that cannot be read, or any file that does not parse.
    pub fn load() -> Result<Self, PolicyError> {
        let system = Self::system()?;
        match std::env::var_os(POLICY_ENV) {
            Some(path) if !path.is_empty() => {
                Ok(Self::from_path(Path::new(&path))?.no_looser_than(&system))
            }
            _ => Ok(system),
        }
    }

    /// The system-wide policy, or the defaults where there is none.
    fn system() -> Result<Self, PolicyError> {
        match std::fs::read_to_string(SYSTEM_POLICY_PATH) {
            Ok(text) => Self::from_toml_str(&text, Path::new(SYSTEM_POLICY_PATH)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(PolicyError::Read {
                path: PathBuf::from(SYSTEM_POLICY_PATH),
                source,
            }),
        }
    }

    /// This policy with its PIN guessing limits no looser than `system`'s: a file named by
    /// `PASSBRIDGE_POLICY` may tighten them, never loosen them, since anyone who can set the
    /// environment (a co-user of the account) could otherwise give themselves more guesses.
    #[must_use]
    pub fn no_looser_than(mut self, system: &Self) -> Self {
        self.max_pin_failures = self.max_pin_failures.min(system.max_pin_failures);
        self.min_pin_length = self.min_pin_length.max(system.min_pin_length);
        self
    }

    /// The file [`Policy::load`] reads, if one is in force (`None`: the built-in defaults).
    pub fn source_path() -> Option<PathBuf> {
        match std::env::var_os(POLICY_ENV) {
            Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
            _ => Some(PathBuf::from(SYSTEM_POLICY_PATH)).filter(|path| path.exists()),
        }
    }

    /// Loads the policy from `path`.
    ///
    /// # Errors
    /// Unreadable or invalid file.
    pub fn from_path(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    fn from_toml_str(text: &str, path: &Path) -> Result<Self, PolicyError> {
        let policy: Self = toml::from_str(text).map_err(|source| PolicyError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        policy.argon2_params()?;
        if !(1..=MAX_PIN_FAILURES_LIMIT).contains(&policy.max_pin_failures) {
            return Err(PolicyError::OutOfRange {
                key: "max_pin_failures",
                allowed: "between 1 and 100",
            });
        }
        if policy.min_pin_length == 0 {
            return Err(PolicyError::OutOfRange {
                key: "min_pin_length",
                allowed: "at least 1",
            });
        }
        Ok(policy)
    }

    /// The Argon2id parameters this policy asks for.
    ///
    /// # Errors
    /// Parameters argon2 rejects (e.g. memory below 8 KiB per lane).
    pub fn argon2_params(&self) -> Result<argon2::Params, PolicyError> {
        argon2::Params::new(
            self.argon2_memory_kib,
            self.argon2_iterations,
            self.argon2_parallelism,
            Some(32),
        )
        .map_err(PolicyError::Argon2)
    }

    /// The auto-lock idle time, or `None` when auto-lock is disabled.
    pub fn auto_lock_idle(&self) -> Option<u64> {
        (self.auto_lock_idle_secs > 0).then_some(self.auto_lock_idle_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let policy = Policy::from_toml_str("", Path::new("x")).unwrap();
        assert_eq!(policy, Policy::default());
        assert!(!policy.allow_passphrase_only);
    }

    #[test]
    fn partial_file_overrides_only_named_keys() {
        let policy = Policy::from_toml_str(
            "allow_passphrase_only = true\nauto_lock_idle_secs = 0\n",
            Path::new("x"),
        )
        .unwrap();
        assert!(policy.allow_passphrase_only);
        assert_eq!(policy.auto_lock_idle(), None);
        assert_eq!(policy.min_pin_length, 6);
        assert_eq!(policy.max_pin_failures, 10);
        assert_eq!(
            (policy.argon2_memory_kib, policy.argon2_iterations),
            (131_072, 3)
        );
    }

    #[test]
    fn a_named_policy_cannot_loosen_the_pin_limits() {
        let named = Policy::from_toml_str(
            "max_pin_failures = 100\nmin_pin_length = 2\nauto_lock_idle_secs = 5\n",
            Path::new("x"),
        )
        .unwrap();
        let effective = named.no_looser_than(&Policy::default());
        assert_eq!(
            (effective.max_pin_failures, effective.min_pin_length),
            (10, 6)
        );
        assert_eq!(
            effective.auto_lock_idle_secs, 5,
            "other keys are the file's"
        );
        let stricter = Policy::from_toml_str("max_pin_failures = 3", Path::new("x"))
            .unwrap()
            .no_looser_than(&Policy::default());
        assert_eq!(stricter.max_pin_failures, 3);
    }

    #[test]
    fn unknown_keys_and_bad_argon2_are_rejected() {
        assert!(Policy::from_toml_str("allow_everything = true", Path::new("x")).is_err());
        assert!(Policy::from_toml_str("argon2_memory_kib = 1", Path::new("x")).is_err());
        assert!(Policy::from_toml_str("max_pin_failures = 0", Path::new("x")).is_err());
        assert!(Policy::from_toml_str("max_pin_failures = 101", Path::new("x")).is_err());
        assert!(Policy::from_toml_str("min_pin_length = 0", Path::new("x")).is_err());
    }
}
