//! Finds the shared reference data (`../shared/data` beside the checkout) for tests and benchmarks.
//!
//! Tests call [`locate`]; when the data is missing they skip with a printed reason, except under
//! `TRAWL_REQUIRE_SHARED=1` (set by CI), where a missing folder is a failure.

use std::path::{Path, PathBuf};

/// The folder `shared/data/<relative>`, searched for beside every ancestor of the current
/// directory (or under `$TRAWL_SHARED_DATA` when set). `None` means: skip, the reason was printed.
///
/// # Panics
/// When `TRAWL_REQUIRE_SHARED=1` and the folder is not found: CI must not skip silently.
pub fn locate(relative: &str) -> Option<PathBuf> {
    let found = candidates()
        .map(|root| root.join(relative))
        .find(|p| p.exists());
    if found.is_none() {
        let msg = format!(
            "shared data `{relative}` not found (looked for ../shared/data beside the checkout)"
        );
        if std::env::var("TRAWL_REQUIRE_SHARED").as_deref() == Ok("1") {
            panic!("{msg}; TRAWL_REQUIRE_SHARED=1 forbids skipping");
        }
        eprintln!("skipped: {msg}");
    }
    found
}

fn candidates() -> impl Iterator<Item = PathBuf> {
    let from_env = std::env::var_os("TRAWL_SHARED_DATA").map(PathBuf::from);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let ancestors: Vec<PathBuf> = cwd.ancestors().map(Path::to_path_buf).collect();
    from_env
        .into_iter()
        .chain(ancestors.into_iter().map(|a| a.join("shared").join("data")))
}
