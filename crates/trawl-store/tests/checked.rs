//! Checksummed files refuse every kind of damage with an error that names the file.

use trawl_store::{
    checksum, seal, verify_bytes, write_checked, Checked, CheckedWriter, Error, Verify, FOOTER_LEN,
};

const MAGIC: &[u8; 8] = b"TRWLTEST";

fn payload() -> Vec<u8> {
    (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

fn written(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("data.bin");
    write_checked(&p, MAGIC, 2, &payload()).unwrap();
    p
}

#[test]
fn roundtrip_streaming_writer_equals_seal() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.bin");
    let mut w = CheckedWriter::create(&p, MAGIC, 2).unwrap();
    for chunk in payload().chunks(333) {
        w.write_all(chunk).unwrap();
    }
    w.finish().unwrap();
    let mut sealed = payload();
    seal(&mut sealed, MAGIC, 2);
    assert_eq!(std::fs::read(&p).unwrap(), sealed);
}

#[test]
fn every_truncation_is_refused_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let p = written(dir.path());
    let full = std::fs::read(&p).unwrap();
    for cut in [
        0,
        1,
        FOOTER_LEN - 1,
        FOOTER_LEN,
        full.len() / 2,
        full.len() - 1,
    ] {
        std::fs::write(&p, &full[..cut]).unwrap();
        for v in [Verify::Full, Verify::FooterOnly] {
            let err = Checked::open(&p, MAGIC, 2, v).unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "cut {cut}: {err}");
            assert!(err.to_string().contains("data.bin"), "{err}");
        }
    }
}

#[test]
fn flipped_payload_bit_fails_full_verification() {
    let dir = tempfile::tempdir().unwrap();
    let p = written(dir.path());
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[1234] ^= 0x10;
    std::fs::write(&p, &bytes).unwrap();
    let err = Checked::open(&p, MAGIC, 2, Verify::Full).unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    // The cheap check only looks at the footer: documented trade-off.
    assert!(Checked::open(&p, MAGIC, 2, Verify::FooterOnly).is_ok());
}

#[test]
fn flipped_footer_bit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = written(dir.path());
    let mut bytes = std::fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    assert!(matches!(
        Checked::open(&p, MAGIC, 2, Verify::FooterOnly),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn wrong_magic_and_version_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = written(dir.path());
    let err = Checked::open(&p, b"TRWLELSE", 2, Verify::Full).unwrap_err();
    assert!(matches!(err, Error::WrongMagic { .. }), "{err}");
    assert!(err.to_string().contains("TRWLELSE"), "{err}");
    let err = Checked::open(&p, MAGIC, 3, Verify::Full).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                found: 2,
                expected: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_foreign_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.json");
    std::fs::write(&p, br#"{"this": "is json, not an index file at all"}"#).unwrap();
    let err = Checked::open(&p, MAGIC, 2, Verify::Full).unwrap_err();
    assert!(err.to_string().contains("notes.json"), "{err}");
}

/// A payload past two 16 MiB pieces is checksummed piece by piece on all threads and the pieces
/// combined: the value is the one-pass CRC-32 on either side of that size and at uneven
/// lengths, a sealed file verifies, and a bit flipped in the first, a middle or the last piece
/// is caught. (Combining the pieces in the wrong order, or dropping one, fails it.)
#[test]
fn a_large_payload_checksummed_in_pieces_equals_the_one_pass_crc() {
    let piece = 16 << 20;
    let n = 3 * piece + 12_345;
    let payload: Vec<u8> = (0..n as u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect();
    for len in [0, 1, 2 * piece, 2 * piece + 1, 3 * piece, n] {
        assert_eq!(
            checksum(&payload[..len]),
            crc32fast::hash(&payload[..len]),
            "{len} bytes"
        );
    }
    let mut sealed = payload.clone();
    seal(&mut sealed, MAGIC, 2);
    let path = std::path::Path::new("big.bin");
    assert_eq!(
        verify_bytes(&sealed, path, MAGIC, 2, Verify::Full).unwrap(),
        n
    );
    for at in [5, piece + 7, n - 1] {
        sealed[at] ^= 0x40;
        let err = verify_bytes(&sealed, path, MAGIC, 2, Verify::Full).unwrap_err();
        assert!(
            err.to_string().contains("checksum mismatch"),
            "byte {at}: {err}"
        );
        sealed[at] ^= 0x40;
    }
}
