//! A fault-injection hook for crash tests: with `TRAWL_STORE_KILL_AT_RENAME=N` in the
//! environment, the process kills itself (SIGKILL, no clean-up runs) just before its N-th rename
//! (counting every rename and exchange trawl-store makes, from 1). Tests run the `trawl` binary
//! with N = 1, 2, ... and check that the last complete state still opens: the same thing as
//! `strace -e inject=rename:signal=KILL:when=N`, without strace. `TRAWL_STORE_NO_EXCHANGE=1`
//! selects the two-rename fallback of [`crate::atomic`], so both paths are crash-tested on Linux.
//! `TRAWL_STORE_FAIL_WRITES_AFTER=N` makes every checksummed write fail with "no space left on
//! device" once the process has written N payload bytes through [`crate::CheckedWriter`]: a
//! full disk part-way through a build or a merge, without filling one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable read (once per process).
pub const KILL_AT_RENAME_ENV: &str = "TRAWL_STORE_KILL_AT_RENAME";
/// With this set to `1`, replacing uses the two-rename fallback even where the exchange works,
/// so tests cover the path other systems take.
pub const NO_EXCHANGE_ENV: &str = "TRAWL_STORE_NO_EXCHANGE";

/// The environment variable of the simulated full disk.
pub const FAIL_WRITES_AFTER_ENV: &str = "TRAWL_STORE_FAIL_WRITES_AFTER";

static RENAMES: AtomicU64 = AtomicU64::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);

fn fail_writes_after() -> Option<u64> {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    *AT.get_or_init(|| {
        std::env::var(FAIL_WRITES_AFTER_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Called before every checksummed write of `len` bytes: an error once the configured budget
/// is spent (ENOSPC, as a full disk gives).
pub(crate) fn before_write(len: usize) -> std::io::Result<()> {
    let Some(limit) = fail_writes_after() else {
        return Ok(());
    };
    let before = WRITTEN.fetch_add(len as u64, Ordering::SeqCst);
    if before + len as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!("no space left on device (simulated by {FAIL_WRITES_AFTER_ENV}={limit})"),
        ));
    }
    Ok(())
}

fn kill_at() -> Option<u64> {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    *AT.get_or_init(|| {
        std::env::var(KILL_AT_RENAME_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
    })
}

/// True when tests asked for the fallback replace.
pub(crate) fn exchange_disabled() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| std::env::var(NO_EXCHANGE_ENV).is_ok_and(|v| v == "1"))
}

/// Called before every rename: counts it, and dies at the configured one.
pub(crate) fn before_rename() {
    let n = RENAMES.fetch_add(1, Ordering::SeqCst) + 1;
    if kill_at() == Some(n) {
        die();
    }
}

#[cfg(unix)]
fn die() {
    // SAFETY: plain system calls on our own process.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort();
}

#[cfg(not(unix))]
fn die() {
    std::process::abort();
}
