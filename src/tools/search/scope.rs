//! Where a search may look: a path inside the workspace (or inside a configured extra root),
//! checked after canonicalising so that neither `..` nor a symlink can lead outside.

use std::path::{Component, Path, PathBuf};

use crate::orchestrator::OrchestratorError;

/// A resolved search root.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The canonical directory or file to search.
    pub root: PathBuf,
    /// The canonical workspace root: paths under it are shown relative to it.
    pub workspace: PathBuf,
    /// What globs are matched against: the workspace root, or the extra root the search is in.
    pub glob_root: PathBuf,
}

impl Scope {
    /// How a path found by the walk is shown: relative to the workspace when inside it,
    /// absolute otherwise (a file under an extra root).
    pub fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.workspace) {
            Ok(rel) if !rel.as_os_str().is_empty() => shown(rel),
            Ok(_) => ".".to_string(),
            Err(_) => shown(path),
        }
    }
}

/// A path as text, bytes that are not UTF-8 written `\xNN`: two names that differ only there
/// stay two names (a lossy conversion made both `a\u{fffd}.t`, and one's results replaced the
/// other's).
fn shown(path: &Path) -> String {
    let mut out = String::new();
    for chunk in path.as_os_str().as_encoded_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Resolves the `path` argument (`None`, `""` and `"."` mean the whole workspace).
pub(crate) fn resolve(
    workspace: &Path,
    extra_roots: &[PathBuf],
    path: Option<&str>,
) -> Result<Scope, OrchestratorError> {
    let ws = workspace.canonicalize().map_err(|e| {
        OrchestratorError::ToolFailed(format!(
            "the workspace root {} cannot be read: {e}",
            workspace.display()
        ))
    })?;
    // Extra roots that do not exist (or cannot be read) simply allow nothing.
    let extras: Vec<PathBuf> = extra_roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .collect();
    let requested = path.map(str::trim).filter(|p| !p.is_empty() && *p != ".");
    let Some(requested) = requested else {
        return Ok(Scope {
            root: ws.clone(),
            glob_root: ws.clone(),
            workspace: ws,
        });
    };
    let joined = if Path::new(requested).is_absolute() {
        PathBuf::from(requested)
    } else {
        ws.join(requested)
    };
    let outside = |resolved: &Path| {
        let allowed = if extra_roots.is_empty() {
            "add the directory to `tools.extraRoots` in the orchestrator config to allow it"
                .to_string()
        } else {
            format!(
                "the only other roots allowed are tools.extraRoots: {}",
                extra_roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        OrchestratorError::InvalidArgument {
            field: "path",
            message: format!(
                "`{requested}` resolves to {}, which is outside the workspace {}; searches are \
                 limited to the workspace ({allowed})",
                resolved.display(),
                ws.display()
            ),
        }
    };
    let canonical = match joined.canonicalize() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Say "outside" rather than "missing" when the path could never be allowed.
            let lexical = normalize(&joined);
            if !lexical.starts_with(&ws) && !extras.iter().any(|r| lexical.starts_with(r)) {
                return Err(outside(&lexical));
            }
            return Err(OrchestratorError::InvalidArgument {
                field: "path",
                message: format!(
                    "`{requested}` does not exist (looked for {}); paths are relative to the \
                     workspace root {}",
                    joined.display(),
                    ws.display()
                ),
            });
        }
        Err(e) => {
            return Err(OrchestratorError::InvalidArgument {
                field: "path",
                message: format!("`{requested}` cannot be read: {e}"),
            });
        }
    };
    // Globs are matched from the workspace, or from the extra root the path is in.
    let glob_root = if canonical.starts_with(&ws) {
        ws.clone()
    } else {
        match extras.iter().find(|r| canonical.starts_with(r)) {
            Some(extra) => extra.clone(),
            None => return Err(outside(&canonical)),
        }
    };
    // The walk never enters .git below its root, but does not filter the root itself.
    let below = canonical.strip_prefix(&glob_root).unwrap_or(&canonical);
    if below.components().any(|c| c.as_os_str() == ".git") {
        return Err(OrchestratorError::InvalidArgument {
            field: "path",
            message: format!(
                "`{requested}` is inside a .git directory, which searches never look into; \
                 use git itself (e.g. through run_background) to read it"
            ),
        });
    }
    Ok(Scope {
        root: canonical,
        glob_root,
        workspace: ws,
    })
}

/// `a/b/../c` to `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_drops_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/a/../../x")), PathBuf::from("/x"));
    }

    #[test]
    fn git_directories_are_refused_as_roots() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join(".git/refs")).unwrap();
        std::fs::write(ws.path().join(".git/config"), "x").unwrap();
        for p in [".git", ".git/config", "./.git/refs", ".git/../.git"] {
            let e = resolve(ws.path(), &[], Some(p)).unwrap_err().to_string();
            assert!(e.contains("inside a .git directory"), "{p}: {e}");
        }
        std::fs::write(ws.path().join(".gitignore"), "x").unwrap();
        assert!(resolve(ws.path(), &[], Some(".gitignore")).is_ok());
    }

    #[test]
    fn names_that_are_not_utf8_stay_distinct() {
        use std::os::unix::ffi::OsStrExt;
        let ws = tempfile::tempdir().unwrap();
        let s = resolve(ws.path(), &[], None).unwrap();
        let name = |b: u8| {
            s.workspace
                .join(std::ffi::OsStr::from_bytes(&[b'a', b, b'.', b't']))
        };
        assert_eq!(s.display(&name(0xff)), "a\\xFF.t");
        assert_eq!(s.display(&name(0xfe)), "a\\xFE.t");
        assert_eq!(s.display(&s.workspace.join("caf\u{e9}.rs")), "caf\u{e9}.rs");
    }

    #[test]
    fn paths_resolve_inside_and_are_refused_outside() {
        let ws = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(ws.path().join("src")).unwrap();
        let s = resolve(ws.path(), &[], Some("src")).unwrap();
        assert!(s.root.ends_with("src"));
        assert_eq!(s.display(&s.root.join("a.rs")), "src/a.rs");
        assert_eq!(resolve(ws.path(), &[], None).unwrap().root, s.workspace);
        let e = resolve(ws.path(), &[], Some("../"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the workspace"), "{e}");
        let e = resolve(ws.path(), &[], Some("../nope/x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the workspace"), "{e}");
        let e = resolve(ws.path(), &[], Some("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let abs = other.path().to_str().unwrap();
        assert!(resolve(ws.path(), &[], Some(abs)).is_err());
        let s = resolve(ws.path(), &[other.path().to_path_buf()], Some(abs)).unwrap();
        assert_eq!(s.glob_root, other.path().canonicalize().unwrap());
        assert!(s.display(&s.root.join("f")).starts_with('/'));
    }
}
