//! A cached, freshly initdb'd data directory that throwaway servers copy
//! instead of running initdb (~1 s) each time.
//!
//! It lives at `$TMPDIR/idsync-pg-template-v<format>-<version>-uid<euid>`.
//! Creation needs no lock: each process initdb's into a private staging
//! directory and renames it into place; rename(2) is atomic and fails when
//! the target already exists, so a loser of the race just uses the winner's
//! copy (at worst a few processes each run initdb once). A marker file,
//! written before the rename, records the entry count so that a template
//! damaged later (e.g. by a /tmp cleaner) is noticed and rebuilt.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::sync::OnceCell;

use crate::PgError;
use crate::datadir::{count_entries, initdb};
use crate::env::{Env, run};

/// Bump when initdb's arguments change, so old templates are not reused.
const FORMAT: u32 = 1;
/// Inside the template; removed from each copy.
const MARKER: &str = "idsync-template.ok";

/// Validated once per process; later servers just copy.
static TEMPLATE: OnceCell<PathBuf> = OnceCell::const_new();

pub(crate) async fn template(env: &Env) -> Result<&'static Path, PgError> {
    TEMPLATE
        .get_or_try_init(|| build_or_reuse(env))
        .await
        .map(PathBuf::as_path)
}

/// Copies the template to `dest` (which must not exist).
pub(crate) async fn copy_to(template: &Path, dest: &Path) -> Result<(), PgError> {
    // cp -a keeps modes (0700) and, as root, the postgres ownership.
    let mut cmd = Command::new("cp");
    cmd.arg("-a").arg(template).arg(dest);
    run(
        cmd,
        &format!("cp -a {} {}", template.display(), dest.display()),
    )
    .await?;
    let marker = dest.join(MARKER);
    std::fs::remove_file(&marker).map_err(|e| PgError::io("remove", marker, e))
}

async fn build_or_reuse(env: &Env) -> Result<PathBuf, PgError> {
    let tmp = std::env::temp_dir();
    let name = format!(
        "idsync-pg-template-v{FORMAT}-{}-uid{}",
        env.version, env.euid
    );
    let path = tmp.join(&name);
    match check(env, &path) {
        Check::Valid => return Ok(path),
        Check::Missing => {}
        Check::Broken(why) => {
            tracing::warn!(template = %path.display(), %why, "rebuilding the PostgreSQL template");
            discard(&tmp, &name, &path)?;
        }
    }

    let started = std::time::Instant::now();
    let staging = tempfile::Builder::new()
        .prefix(&format!("{name}.staging-"))
        .tempdir_in(&tmp)
        .map_err(|e| PgError::io("create a directory in", &tmp, e))?;
    if env.run_as.is_some() {
        // postgres must be able to enter the staging dir to initdb inside it.
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| PgError::io("set permissions of", staging.path(), e))?;
    }
    let data = staging.path().join("data");
    initdb(env, &data, false).await?;
    let count = count_entries(&data).map_err(|e| PgError::io("read", &data, e))?;
    let marker = data.join(MARKER);
    // +1: the marker itself.
    std::fs::write(&marker, format!("{}\n", count + 1))
        .map_err(|e| PgError::io("write", &marker, e))?;

    match std::fs::rename(&data, &path) {
        Ok(()) => {
            tracing::info!(template = %path.display(), elapsed = ?started.elapsed(), "created PostgreSQL template");
            Ok(path)
        }
        // Another process won the race; its template is as good as ours.
        Err(_) if matches!(check(env, &path), Check::Valid) => Ok(path),
        Err(e) => Err(PgError::io("rename the new template to", &path, e)),
    }
}

enum Check {
    Valid,
    Missing,
    Broken(String),
}

fn check(env: &Env, path: &Path) -> Check {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Check::Missing,
        Err(e) => return Check::Broken(e.to_string()),
    };
    // It sits in a world-writable directory: only trust a directory that
    // we (or, as root, postgres) made, since its postgresql.conf is run.
    let owner = env.run_as.map_or(env.euid, |a| a.uid);
    if !meta.is_dir() || meta.uid() != owner || meta.mode() & 0o077 != 0 {
        return Check::Broken(format!(
            "not a private directory owned by uid {owner} (uid {}, mode {:o})",
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    let expected = match std::fs::read_to_string(path.join(MARKER)) {
        Ok(s) => s.trim().parse::<u64>().ok(),
        Err(_) => None,
    };
    let Some(expected) = expected else {
        return Check::Broken("no valid marker file".into());
    };
    match count_entries(path) {
        Ok(n) if n == expected => Check::Valid,
        Ok(n) => Check::Broken(format!("{n} entries, expected {expected}")),
        Err(e) => Check::Broken(e.to_string()),
    }
}

/// Moves a broken template out of the way (atomically, so no other process
/// copies a half-deleted one), then deletes it.
fn discard(tmp: &Path, name: &str, path: &Path) -> Result<(), PgError> {
    let trash = tempfile::Builder::new()
        .prefix(&format!("{name}.trash-"))
        .tempdir_in(tmp)
        .map_err(|e| PgError::io("create a directory in", tmp, e))?;
    let target = trash.path().join("old");
    match std::fs::rename(path, &target) {
        Ok(()) => Ok(()),
        // Someone else already moved it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PgError::io("move away the broken template", path, e)),
    }
    // `trash` is deleted on drop.
}
