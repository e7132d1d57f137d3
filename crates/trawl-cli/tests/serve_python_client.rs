//! Runs clients/python/test_client.py (stdlib unittest) against this build's `trawl serve`.
//! Skips, with a printed reason, when python3 is missing.

use std::path::Path;
use std::process::Command;

#[test]
fn python_client_and_verl_reward_work_against_a_real_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 not found");
        return;
    }
    let out = Command::new("python3")
        .args(["-m", "unittest", "-v", "clients/python/test_client.py"])
        .current_dir(&root)
        .env("TRAWL_BIN", env!("CARGO_BIN_EXE_trawl"))
        .output()
        .expect("python3 runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python client tests failed:\n{log}");
    assert!(log.contains("Ran 9 tests"), "{log}");
}
