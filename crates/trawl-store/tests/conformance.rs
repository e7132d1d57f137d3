//! The same behaviour checks run against every `ByteSource` implementation.

use std::path::Path;
use trawl_store::{ByteSource, Checked, Error, MmapBytes, RamBytes, Verify};

fn samples() -> Vec<Vec<u8>> {
    vec![
        vec![],
        vec![7],
        (0..=255u8).collect(),
        (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect(),
    ]
}

/// Every source must expose exactly the bytes it was made from, and refuse out-of-range reads.
fn check_source<S: ByteSource>(src: &S, expected: &[u8]) {
    assert_eq!(src.len(), expected.len());
    assert_eq!(src.is_empty(), expected.is_empty());
    assert_eq!(src.as_slice(), expected);
    assert_eq!(src.bytes(0..expected.len()).unwrap(), expected);
    if expected.len() >= 3 {
        assert_eq!(src.bytes(1..3).unwrap(), &expected[1..3]);
    }
    let n = expected.len();
    assert!(matches!(src.bytes(0..n + 1), Err(Error::OutOfRange { .. })));
    assert!(matches!(
        src.bytes(n + 1..n + 2),
        Err(Error::OutOfRange { .. })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = src.bytes(2..1);
    assert!(reversed.is_err());
}

fn write(dir: &Path, i: usize, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(format!("s{i}.bin"));
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn ram_bytes_conform() {
    for s in samples() {
        check_source(&RamBytes::from(s.clone()), &s);
    }
}

#[test]
fn ram_bytes_read_from_file_conform() {
    let dir = tempfile::tempdir().unwrap();
    for (i, s) in samples().into_iter().enumerate() {
        check_source(&RamBytes::read(&write(dir.path(), i, &s)).unwrap(), &s);
    }
}

#[test]
fn mmap_bytes_conform() {
    let dir = tempfile::tempdir().unwrap();
    for (i, s) in samples().into_iter().enumerate() {
        let m = MmapBytes::open(&write(dir.path(), i, &s)).unwrap();
        check_source(&m, &s);
        check_source(&m.clone(), &s);
    }
}

#[test]
fn checked_sources_conform_over_ram_and_mmap() {
    let dir = tempfile::tempdir().unwrap();
    for (i, s) in samples().into_iter().enumerate() {
        let p = dir.path().join(format!("c{i}.bin"));
        trawl_store::write_checked(&p, b"TRWLTEST", 3, &s).unwrap();
        let m = Checked::open(&p, b"TRWLTEST", 3, Verify::Full).unwrap();
        check_source(&m, &s);
        let r = Checked::new(
            RamBytes::read(&p).unwrap(),
            &p,
            b"TRWLTEST",
            3,
            Verify::Full,
        )
        .unwrap();
        check_source(&r, &s);
    }
}

#[test]
fn mmap_of_missing_file_names_the_path() {
    let err = MmapBytes::open(Path::new("/nonexistent/trawl/x.bin")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/trawl/x.bin"),
        "{err}"
    );
}
