//! The declared toolchain tells the truth (workspace-level check; it lives in the lightest crate
//! so it runs in a second): `rust-version` in the workspace Cargo.toml is at least what our code
//! needs (recently stabilised APIs found in the sources) and what every locked dependency
//! declares; every crate inherits it; the README states it; `.ci/run` fails on `cargo fmt` and
//! clippy warnings before the tests.

use std::path::{Path, PathBuf};

type Version = (u32, u32);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn parse_version(s: &str) -> Option<Version> {
    let mut it = s.trim().split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The value of `key = "..."` on its own line of a TOML text (first occurrence).
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(key)?.trim_start().strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    })
}

fn declared() -> Version {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let v = toml_string(&text, "rust-version").expect("workspace rust-version");
    parse_version(&v).expect("rust-version is MAJOR.MINOR")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// APIs stabilised recently, with the release that stabilised them. `.try_lock()` and friends
/// stand for `File::lock`/`try_lock` (1.89); a `Mutex::try_lock` would also match, which only
/// errs on the safe side.
const APIS: &[(&str, Version)] = &[
    (".is_none_or(", (1, 82)),
    ("repeat_n(", (1, 82)),
    (".get_or_insert_default(", (1, 83)),
    (".insert_entry(", (1, 83)),
    (".isqrt(", (1, 84)),
    (".pop_if(", (1, 86)),
    (".get_disjoint_mut(", (1, 86)),
    (".next_up(", (1, 86)),
    (".is_multiple_of(", (1, 87)),
    (".extract_if(", (1, 87)),
    (".cast_signed(", (1, 87)),
    (".cast_unsigned(", (1, 87)),
    (".as_chunks(", (1, 88)),
    ("select_unpredictable(", (1, 88)),
    (".try_lock()", (1, 89)),
    (".lock_shared()", (1, 89)),
    (".try_lock_shared()", (1, 89)),
];

#[test]
fn rust_version_covers_the_apis_the_code_uses() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    assert!(files.len() > 20, "found only {} sources", files.len());
    let mut needed: Option<(Version, String)> = None;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (api, since) in APIS {
            // The table above names the APIs; do not count it as a use.
            if text.contains(api)
                && !text.contains("const APIS")
                && needed.as_ref().is_none_or(|(v, _)| since > v)
            {
                needed = Some((*since, format!("{api} in {}", f.display())));
            }
        }
    }
    let (need, why) = needed.expect("the code uses is_multiple_of (1.87) at least");
    let have = declared();
    assert!(
        have >= need,
        "workspace rust-version {have:?} is older than {need:?} needed by {why}"
    );
}

/// `~/.cargo/registry/src/*/NAME-VERSION/Cargo.toml` of a locked package, if present.
fn registry_manifest(home: &Path, name: &str, version: &str) -> Option<PathBuf> {
    let src = home.join("registry/src");
    std::fs::read_dir(src).ok()?.flatten().find_map(|index| {
        let p = index.path().join(format!("{name}-{version}/Cargo.toml"));
        p.exists().then_some(p)
    })
}

#[test]
fn rust_version_covers_every_locked_dependency_found_locally() {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(home) = home else {
        eprintln!("skipped: no CARGO_HOME or HOME");
        return;
    };
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let have = declared();
    let (mut checked, mut too_new) = (0, Vec::new());
    for block in lock.split("[[package]]").skip(1) {
        let (Some(name), Some(version)) =
            (toml_string(block, "name"), toml_string(block, "version"))
        else {
            continue;
        };
        let Some(manifest) = registry_manifest(&home, &name, &version) else {
            continue; // a workspace crate, or not downloaded on this machine
        };
        checked += 1;
        let text = std::fs::read_to_string(manifest).unwrap_or_default();
        // Only the [package] table's own key (before the first dependency table).
        let package = text.split("\n[dependencies").next().unwrap_or("");
        if let Some(v) = toml_string(package, "rust-version").and_then(|v| parse_version(&v)) {
            if v > have {
                too_new.push(format!("{name} {version} needs {}.{}", v.0, v.1));
            }
        }
    }
    if checked == 0 {
        eprintln!("skipped: no locked package found under {}", home.display());
        return;
    }
    assert!(
        too_new.is_empty(),
        "workspace rust-version {have:?} is older than: {too_new:?}"
    );
}

#[test]
fn every_crate_inherits_it_and_readme_and_ci_say_the_same() {
    let (major, minor) = declared();
    for entry in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        let manifest = entry.path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            assert!(
                text.contains("rust-version.workspace = true"),
                "{} does not inherit the workspace rust-version",
                manifest.display()
            );
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let line = format!("Rust toolchain ({major}.{minor}+)");
    assert!(readme.contains(&line), "README must say `{line}`");
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let pos = |s: &str| {
        ci.lines()
            .position(|l| l.trim() == s)
            .unwrap_or_else(|| panic!(".ci/run must run `{s}`"))
    };
    let tests = pos("cargo test --workspace");
    assert!(pos("cargo fmt --all --check") < tests);
    assert!(pos("cargo clippy --workspace --all-targets -- -D warnings") < tests);
}
