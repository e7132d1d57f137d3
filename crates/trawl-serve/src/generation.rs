//! The generation of a knowledge base on disk: what tells a server that the folder it serves
//! was replaced (`trawl kb build --force` renames a new folder into place).

use std::io::Read;
use std::path::Path;

/// Largest manifest read; a real one is a few KB.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// An identity of the KB folder `dir` as it is now: the folder's (device, inode), which a
/// rename into place changes, and a hash of its `manifest.json`, which a rewrite changes.
/// Equal strings mean the same generation. Keep every notion of "generation" here.
pub fn kb_generation(dir: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let manifest = dir.join("manifest.json");
    let m = std::fs::metadata(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    if !m.is_file() {
        return Err(format!("{} is not a regular file", manifest.display()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&manifest)
        .and_then(|f| f.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(format!(
            "{} is over {MAX_MANIFEST_BYTES} bytes",
            manifest.display()
        ));
    }
    let (dev, ino) = dev_ino(&meta);
    Ok(format!("{dev:x}:{ino:x}:{:016x}", fnv1a(&bytes)))
}

#[cfg(unix)]
fn dev_ino(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn dev_ino(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// FNV-1a, 64 bits: stable across Rust versions, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_renamed_into_place_or_a_rewritten_manifest_is_a_new_generation() {
        let tmp = std::env::temp_dir().join(format!("trawl-gen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let (kb, new) = (tmp.join("kb"), tmp.join("new"));
        for d in [&kb, &new] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("manifest.json"), "{\"num_docs\": 3}").unwrap();
        }
        let g1 = kb_generation(&kb).unwrap();
        assert_eq!(kb_generation(&kb).unwrap(), g1);
        // Same manifest bytes, another folder renamed over the path.
        std::fs::rename(&kb, tmp.join("old")).unwrap();
        std::fs::rename(&new, &kb).unwrap();
        let g2 = kb_generation(&kb).unwrap();
        assert_ne!(g2, g1);
        std::fs::write(kb.join("manifest.json"), "{\"num_docs\": 4}").unwrap();
        assert_ne!(kb_generation(&kb).unwrap(), g2);
        std::fs::remove_dir_all(&kb).unwrap();
        assert!(kb_generation(&kb).is_err());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
