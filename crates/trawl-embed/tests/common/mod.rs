//! Shared by the tests that need the real all-MiniLM-L6-v2 model.

use std::path::PathBuf;

/// The model folder: `$TRAWL_TEST_MODEL`, or `models/all-MiniLM-L6-v2` beside an ancestor of the
/// current directory. `None` means skip (reason printed); under `TRAWL_REQUIRE_MODEL=1` it panics.
pub fn model_dir() -> Option<PathBuf> {
    let found = std::env::var_os("TRAWL_TEST_MODEL")
        .map(PathBuf::from)
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            cwd.ancestors()
                .map(|a| a.join("models").join("all-MiniLM-L6-v2"))
                .find(|p| p.join("config.json").exists())
        });
    if found.is_none() {
        let msg =
            "all-MiniLM-L6-v2 not installed (run scripts/get-model.sh or set TRAWL_TEST_MODEL)";
        if std::env::var("TRAWL_REQUIRE_MODEL").as_deref() == Ok("1") {
            panic!("{msg}; TRAWL_REQUIRE_MODEL=1 forbids skipping");
        }
        eprintln!("skipped: {msg}");
    }
    found
}
