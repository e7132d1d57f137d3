//! Finds a model folder from a path, a hub id in the local Hugging Face cache, or ./models/<name>.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Resolves `name` to a folder holding a sentence-transformers / Hugging Face model.
///
/// Order: an existing path; `$TRAWL_MODELS_DIR/<name>` and `models/<name>` in the current
/// directory or any ancestor (the last path component
/// of a hub id too); the Hugging Face hub cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`,
/// `~/.cache/huggingface/hub`) as `models--org--name/snapshots/<rev>`, where a bare name is also
/// tried as `sentence-transformers/<name>`.
pub fn resolve_model_dir(name: &str) -> Result<PathBuf> {
    let mut searched = Vec::new();
    let direct = PathBuf::from(name);
    if direct.is_dir() {
        return Ok(direct);
    }
    searched.push(direct);
    let short = name.rsplit('/').next().unwrap_or(name);
    let mut roots: Vec<PathBuf> = std::env::var_os("TRAWL_MODELS_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(|a| a.join("models")));
    }
    for root in roots {
        for candidate in [root.join(name), root.join(short)] {
            if candidate.join("config.json").is_file() {
                return Ok(candidate);
            }
            if !searched.contains(&candidate) {
                searched.push(candidate);
            }
        }
    }
    let ids: Vec<String> = if name.contains('/') {
        vec![name.to_string()]
    } else {
        vec![format!("sentence-transformers/{name}"), name.to_string()]
    };
    for cache in hf_cache_dirs() {
        for id in &ids {
            let repo = cache.join(format!("models--{}", id.replace('/', "--")));
            if let Some(snapshot) = snapshot_of(&repo) {
                return Ok(snapshot);
            }
            searched.push(repo.join("snapshots"));
        }
    }
    let searched = searched
        .iter()
        .map(|p| format!("  {}", p.display()))
        .collect::<Vec<_>>()
        .join("\n");
    Err(Error::ModelNotFound {
        name: name.to_string(),
        searched,
    })
}

fn hf_cache_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(p) =
        std::env::var_os("HF_HUB_CACHE").or_else(|| std::env::var_os("HUGGINGFACE_HUB_CACHE"))
    {
        dirs.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        dirs.push(PathBuf::from(home).join("hub"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(
            PathBuf::from(home)
                .join(".cache")
                .join("huggingface")
                .join("hub"),
        );
    }
    dirs
}

/// The snapshot named by refs/main, else the only (or newest) snapshot with a config.json.
fn snapshot_of(repo: &Path) -> Option<PathBuf> {
    let snapshots = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let dir = snapshots.join(rev.trim());
        if dir.join("config.json").exists() {
            return Some(dir);
        }
    }
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("config.json").exists())
        .map(|p| {
            (
                p.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH),
                p,
            )
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}
