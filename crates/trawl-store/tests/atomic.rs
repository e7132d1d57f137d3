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
