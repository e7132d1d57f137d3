//! Control files read with a cap, recorded paths confined, outputs that never hold their inputs.
#![cfg(unix)]

use std::path::Path;
use trawl_store::{
    confined_join, foreign_entries, list_files, read_regular_capped, refuse_output_containing,
    Error,
};

#[test]
fn capped_read_refuses_devices_fifos_and_big_files_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("manifest.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let err = read_regular_capped(&zero, 1 << 20).unwrap_err();
    assert!(matches!(err, Error::NotRegularFile { .. }), "{err}");

    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
    // Would block forever without O_NONBLOCK.
    let err = read_regular_capped(&fifo, 1 << 20).unwrap_err();
    assert!(err.to_string().contains("FIFO"), "{err}");

    let big = dir.path().join("big");
    std::fs::write(&big, vec![b' '; 2000]).unwrap();
    let err = read_regular_capped(&big, 1000).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 1000, .. }), "{err}");
    assert_eq!(read_regular_capped(&big, 2000).unwrap().len(), 2000);
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

#[test]
fn recorded_paths_stay_inside_their_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("kb");
    std::fs::create_dir_all(root.join("bm25")).unwrap();
    assert_eq!(confined_join(&root, "bm25").unwrap(), root.join("bm25"));
    for bad in [
        "../..",
        "../kb/bm25",
        "/etc",
        "",
        "./bm25",
        "bm25/../..",
        "a\\b",
    ] {
        let err = confined_join(&root, bad).unwrap_err();
        assert!(matches!(err, Error::UnsafePath { .. }), "{bad}: {err}");
    }
    std::os::unix::fs::symlink("/tmp", root.join("escape")).unwrap();
    let err = confined_join(&root, "escape").unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn foreign_entries_are_the_files_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bm25")).unwrap();
    std::fs::write(dir.path().join("bm25/p.bin"), b"x").unwrap();
    std::fs::write(dir.path().join("manifest.json"), b"{}").unwrap();
    let owned = list_files(dir.path()).unwrap();
    assert_eq!(owned, ["bm25/p.bin", "manifest.json"]);
    assert!(foreign_entries(dir.path(), &owned).unwrap().is_empty());
    std::fs::write(dir.path().join("thesis.tex"), b"x").unwrap();
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    assert_eq!(
        foreign_entries(dir.path(), &owned).unwrap(),
        ["notes/", "thesis.tex"]
    );
}

#[test]
fn an_output_that_contains_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("models/base");
    std::fs::create_dir_all(&model).unwrap();
    let data = dir.path().join("data/train.jsonl");
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    std::fs::write(&data, "{}").unwrap();
    let inputs = [model.as_path(), data.as_path()];
    for out in [
        model.clone(),
        dir.path().join("models"),
        dir.path().join("data"),
    ] {
        let err = refuse_output_containing(&out, &inputs).unwrap_err();
        assert!(matches!(err, Error::OutputContainsInput { .. }), "{err}");
    }
    refuse_output_containing(&dir.path().join("out"), &inputs).unwrap();
    refuse_output_containing(&model.join("finetuned"), &inputs).unwrap();
    refuse_output_containing(Path::new("/nonexistent/x"), &inputs).unwrap();
}
