//! Atomic directories and files: nothing half-written is ever visible at the destination.

use trawl_store::{write_file_atomic, AtomicDir};

fn hidden_leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn commit_makes_the_directory_appear_whole() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("kb");
    let d = AtomicDir::create(&dest).unwrap();
    d.write_file("a.bin", b"aaa").unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::fs::write(d.path().join("sub/b.bin"), b"bb").unwrap();
    assert!(!dest.exists());
    d.commit().unwrap();
    assert_eq!(std::fs::read(dest.join("a.bin")).unwrap(), b"aaa");
    assert_eq!(std::fs::read(dest.join("sub/b.bin")).unwrap(), b"bb");
    assert!(hidden_leftovers(root.path()).is_empty());
}

#[test]
fn commit_replaces_an_existing_directory() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("kb");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("old.bin"), b"old").unwrap();
    let d = AtomicDir::create(&dest).unwrap();
    d.write_file("new.bin", b"new").unwrap();
    // Until commit the old content is intact.
    assert!(dest.join("old.bin").exists());
    d.commit().unwrap();
    assert!(!dest.join("old.bin").exists());
    assert_eq!(std::fs::read(dest.join("new.bin")).unwrap(), b"new");
    assert!(hidden_leftovers(root.path()).is_empty());
}

#[test]
fn dropping_without_commit_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("kb");
    {
        let d = AtomicDir::create(&dest).unwrap();
        d.write_file("a.bin", b"partial").unwrap();
        assert!(d.path().exists());
        assert!(d
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".kb.tmp-"));
    }
    assert!(!dest.exists());
    assert!(hidden_leftovers(root.path()).is_empty());
}

#[test]
fn write_file_atomic_replaces_content() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("manifest.json");
    write_file_atomic(&p, b"one").unwrap();
    write_file_atomic(&p, b"two").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"two");
    assert!(hidden_leftovers(root.path()).is_empty());
}

#[test]
fn write_file_atomic_into_missing_dir_names_the_path() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("missing/manifest.json");
    let err = write_file_atomic(&p, b"x").unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

// ---- locks, atomic exchange, recovery, crash injection -------------------------------------

use std::path::Path;
use std::process::Command;
use trawl_store::{AtomicFile, DirLock, Error};

#[test]
fn a_second_writer_is_refused_with_the_holders_pid() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("kb");
    let held = AtomicDir::create(&dest).unwrap();
    let err = AtomicDir::create(&dest).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Locked { .. }), "{msg}");
    assert!(
        msg.contains(&format!("PID {}", std::process::id())),
        "{msg}"
    );
    drop(held);
    // Released (and the lock file removed) once the holder is done.
    let again = DirLock::acquire(&dest).unwrap();
    drop(again);
    assert!(hidden_leftovers(root.path()).is_empty());
}

#[test]
fn replacing_swaps_the_directory_and_old_maps_stay_readable() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("kb");
    let d = AtomicDir::create(&dest).unwrap();
    d.write_file("v.bin", b"generation 1").unwrap();
    d.commit().unwrap();
    let mapped = trawl_store::MmapBytes::open(&dest.join("v.bin")).unwrap();
    let d = AtomicDir::create(&dest).unwrap();
    d.write_file("v.bin", b"generation 2!").unwrap();
    d.commit().unwrap();
    use trawl_store::ByteSource;
    assert_eq!(mapped.as_slice(), b"generation 1");
    assert_eq!(std::fs::read(dest.join("v.bin")).unwrap(), b"generation 2!");
    assert!(hidden_leftovers(root.path()).is_empty());
}

#[test]
fn an_atomic_file_dropped_part_way_leaves_the_old_file() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("run.txt");
    std::fs::write(&path, "old run\n").unwrap();
    let mut f = AtomicFile::create(&path).unwrap();
    std::io::Write::write_all(&mut f, b"half a run").unwrap();
    drop(f);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old run\n");
    assert!(hidden_leftovers(root.path()).is_empty());
}

#[test]
fn recovery_restores_an_old_copy_when_the_destination_is_missing() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("kb");
    // What the two-rename fallback leaves when killed between its renames (pid 0 never runs).
    let old = root.path().join(".kb.old-999999999");
    std::fs::create_dir(&old).unwrap();
    std::fs::write(old.join("v.bin"), b"complete").unwrap();
    let tmp = root.path().join(".kb.tmp-999999999");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join("v.bin"), b"compl").unwrap();
    let lock = DirLock::acquire(&dest).unwrap();
    let done = lock.recover().unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(done.iter().any(|r| r.to_string().contains("restored")));
    drop(lock);
    assert_eq!(std::fs::read(dest.join("v.bin")).unwrap(), b"complete");
    assert!(hidden_leftovers(root.path()).is_empty());
}

/// Child side of the crash test: replaces `dest` (generation given in the environment); the
/// parent sets `TRAWL_STORE_KILL_AT_RENAME`. Ignored unless run by the parent.
#[test]
#[ignore]
fn crash_child_replace() {
    let Ok(dest) = std::env::var("CRASH_CHILD_DEST") else {
        return;
    };
    let generation = std::env::var("CRASH_CHILD_GEN").unwrap();
    let d = AtomicDir::create(Path::new(&dest)).unwrap();
    d.write_file("a.bin", generation.as_bytes()).unwrap();
    d.write_file("b.bin", generation.as_bytes()).unwrap();
    d.commit().unwrap();
    write_file_atomic(
        &Path::new(&dest).with_extension("txt"),
        generation.as_bytes(),
    )
    .unwrap();
}

fn run_child(dest: &Path, generation: &str, kill_at: Option<u32>, no_exchange: bool) -> bool {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child_replace", "--ignored", "--nocapture"])
        .env("CRASH_CHILD_DEST", dest)
        .env("CRASH_CHILD_GEN", generation)
        .env_remove(trawl_store::fault::KILL_AT_RENAME_ENV)
        .env_remove(trawl_store::fault::NO_EXCHANGE_ENV);
    if let Some(n) = kill_at {
        cmd.env(trawl_store::fault::KILL_AT_RENAME_ENV, n.to_string());
    }
    if no_exchange {
        cmd.env(trawl_store::fault::NO_EXCHANGE_ENV, "1");
    }
    let status = cmd.output().unwrap().status;
    status.success()
}

/// The directory holds one complete generation (both files agree) and it is one of `allowed`.
fn complete_generation(dest: &Path) -> String {
    let a = std::fs::read_to_string(dest.join("a.bin")).unwrap();
    let b = std::fs::read_to_string(dest.join("b.bin")).unwrap();
    assert_eq!(a, b, "a mix of two generations in {}", dest.display());
    a
}

fn crash_at_every_rename(no_exchange: bool) {
    let mut killed = 0;
    for n in 1..=6 {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("kb");
        assert!(run_child(&dest, "one", None, no_exchange));
        let finished = run_child(&dest, "two", Some(n), no_exchange);
        if !finished {
            killed += 1;
        }
        // Recovery under the lock, as the next writer (or a reader) does.
        let lock = DirLock::acquire(&dest).unwrap();
        lock.recover().unwrap();
        drop(lock);
        let generation = complete_generation(&dest);
        assert!(
            generation == "one" || generation == "two",
            "kill at rename {n}: {generation}"
        );
        if finished {
            assert_eq!(generation, "two");
        }
        let leftovers: Vec<String> = hidden_leftovers(root.path())
            .into_iter()
            .filter(|n| !n.starts_with(".kb.txt"))
            .collect();
        assert!(leftovers.is_empty(), "kill at rename {n}: {leftovers:?}");
        // And the next writer succeeds.
        assert!(run_child(&dest, "three", None, no_exchange));
        assert_eq!(complete_generation(&dest), "three");
        assert!(hidden_leftovers(root.path()).is_empty());
    }
    // Exchange: 1 dir swap + 1 file rename; fallback: 2 renames + 1. Each was hit.
    assert_eq!(killed, if no_exchange { 3 } else { 2 });
}

#[test]
fn a_kill_at_any_rename_leaves_the_last_complete_directory() {
    crash_at_every_rename(false);
}

#[test]
fn a_kill_at_any_rename_of_the_fallback_leaves_the_last_complete_directory() {
    crash_at_every_rename(true);
}
