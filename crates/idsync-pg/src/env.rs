//! What the local machine offers: where PostgreSQL's programs are, which
//! version they are, and whether we must switch to the `postgres` user.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::PgError;

/// Environment variable naming PostgreSQL's bin directory, for machines where
/// neither PATH nor the Debian layout finds it (e.g. a Homebrew install).
pub const BIN_DIR_ENV: &str = "IDSYNC_PG_BIN_DIR";

/// Where Debian's `postgresql-NN` packages put the server programs; they are
/// not on PATH there (only the client wrappers are).
const DEBIAN_LIB_DIR: &str = "/usr/lib/postgresql";

#[derive(Debug)]
pub(crate) struct Env {
    pub bin_dir: PathBuf,
    pub initdb: PathBuf,
    pub pg_ctl: PathBuf,
    /// Full version, e.g. "15.18"; names the template cache.
    pub version: String,
    /// What a data directory's PG_VERSION holds, e.g. "15" (or "9.6").
    pub major: String,
    pub euid: u32,
    /// Set when we run as root: the server programs then run as this user.
    pub run_as: Option<Account>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Account {
    pub uid: u32,
    pub gid: u32,
}

/// Discovered once per process: it costs a few subprocesses and the answer
/// does not change while tests run. A failure is not cached, so a later call
/// retries.
static ENV: OnceCell<Env> = OnceCell::const_new();

pub(crate) async fn env() -> Result<&'static Env, PgError> {
    ENV.get_or_try_init(discover).await
}

async fn discover() -> Result<Env, PgError> {
    let (bin_dir, initdb) = find_initdb()?;
    let pg_ctl = server_tool(&bin_dir, "pg_ctl")?;
    let postgres = server_tool(&bin_dir, "postgres")?;
    let mut cmd = Command::new(&postgres);
    cmd.arg("--version");
    let out = output(cmd, "postgres --version").await?;
    let version_line = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = parse_version(&version_line).ok_or_else(|| PgError::CommandFailed {
        action: format!("reading the version of {}", postgres.display()),
        status: "unexpected output".into(),
        output: version_line.trim().to_owned(),
    })?;
    let major = major_of(&version);
    let euid = effective_uid().await?;
    let run_as = if euid == 0 {
        Some(postgres_account().await?)
    } else {
        None
    };
    tracing::debug!(bin_dir = %bin_dir.display(), %version, euid, "found PostgreSQL");
    Ok(Env {
        bin_dir,
        initdb,
        pg_ctl,
        version,
        major,
        euid,
        run_as,
    })
}

impl Env {
    /// A command for a server-side program (initdb, pg_ctl): run as `postgres`
    /// through runuser when we are root, since PostgreSQL refuses root.
    pub fn server_cmd(&self, program: &Path) -> Command {
        let mut cmd = if self.run_as.is_some() {
            let mut c = Command::new(runuser_path());
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // The postgres user may be unable to enter our working directory
        // (e.g. /root) and initdb complains then; every path we pass is absolute.
        cmd.current_dir("/");
        // English messages, so that "Address already in use" can be recognised
        // in the server log.
        cmd.env("LC_ALL", "C").env("LANG", "C");
        cmd
    }

    /// A command for a client program (psql, createdb, pg_isready), which
    /// is fine as root. Looked up next to initdb first so that the versions
    /// match, then on PATH (Debian's version-picking wrappers).
    pub fn client_cmd(&self, tool: &'static str) -> Result<Command, PgError> {
        let program = tool_in(&self.bin_dir, tool)
            .or_else(|| which(tool))
            .ok_or_else(|| PgError::MissingTool {
                tool,
                bin_dir: self.bin_dir.clone(),
            })?;
        let mut cmd = Command::new(program);
        // A user's PGSSLMODE=require or PGPASSWORD must not leak into our
        // trust-auth, TLS-less private server.
        cmd.env("PGSSLMODE", "disable")
            .env("PGCONNECT_TIMEOUT", "5")
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .env("LC_ALL", "C");
        Ok(cmd)
    }
}

fn runuser_path() -> PathBuf {
    // root's PATH normally has the sbin directories, but a trimmed PATH (CI,
    // systemd units) may not.
    which("runuser")
        .or_else(|| {
            ["/usr/sbin/runuser", "/sbin/runuser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| is_executable(p))
        })
        .unwrap_or_else(|| PathBuf::from("runuser"))
}

fn find_initdb() -> Result<(PathBuf, PathBuf), PgError> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        let initdb =
            tool_in(&dir, "initdb").ok_or_else(|| PgError::BadBinDir { dir: dir.clone() })?;
        return Ok((dir, initdb));
    }
    if let Some(found) = which("initdb") {
        // /usr/local/bin/initdb is often a symlink into the real bin
        // directory, which is where pg_ctl, psql & co. of the same version live.
        let real = std::fs::canonicalize(&found).unwrap_or(found);
        if let Some(dir) = real.parent() {
            return Ok((dir.to_path_buf(), real.clone()));
        }
    }
    let dir = highest_debian_bin_dir(Path::new(DEBIAN_LIB_DIR)).ok_or(PgError::NotInstalled)?;
    let initdb = dir.join("initdb");
    Ok((dir, initdb))
}

/// /usr/lib/postgresql/<ver>/bin with the highest version that has initdb.
fn highest_debian_bin_dir(lib_dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(lib_dir).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let key = version_key(&name)?;
            let bin = e.path().join("bin");
            is_executable(&bin.join("initdb")).then_some((key, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// "15" -> [15], "9.6" -> [9, 6]; numeric so that 10 sorts above 9.6.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|p| p.parse().ok()).collect()
}

fn server_tool(bin_dir: &Path, tool: &'static str) -> Result<PathBuf, PgError> {
    tool_in(bin_dir, tool)
        .or_else(|| which(tool))
        .ok_or_else(|| PgError::MissingTool {
            tool,
            bin_dir: bin_dir.to_path_buf(),
        })
}

fn tool_in(dir: &Path, tool: &str) -> Option<PathBuf> {
    let p = dir.join(tool);
    is_executable(&p).then_some(p)
}

pub(crate) fn which(tool: impl AsRef<OsStr>) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(tool.as_ref()))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18".
pub(crate) fn parse_version(line: &str) -> Option<String> {
    let rest = line.split_once("(PostgreSQL)")?.1;
    let token = rest.split_whitespace().next()?;
    // Betas and release candidates ("16beta1") still start with the number.
    let numeric: String = token
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!numeric.is_empty()).then_some(numeric)
}

/// What PG_VERSION says for this release: "15" since 10, "9.6" before.
pub(crate) fn major_of(version: &str) -> String {
    let mut parts = version.split('.');
    let first = parts.next().unwrap_or_default();
    match first.parse::<u32>() {
        Ok(n) if n < 10 => match parts.next() {
            Some(second) => format!("{first}.{second}"),
            None => first.to_owned(),
        },
        _ => first.to_owned(),
    }
}

/// The effective uid, from /proc (no libc here: the workspace forbids unsafe
/// code), falling back to `id -u` where /proc is missing.
async fn effective_uid() -> Result<u32, PgError> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        // "Uid:\t<real>\t<effective>\t<saved>\t<fs>"
        if let Some(euid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
        {
            return Ok(euid);
        }
    }
    id_number(&["-u"]).await
}

async fn postgres_account() -> Result<Account, PgError> {
    if which("runuser").is_none()
        && !["/usr/sbin/runuser", "/sbin/runuser"]
            .iter()
            .any(|p| is_executable(Path::new(p)))
    {
        return Err(PgError::CannotDropRoot {
            reason: "util-linux's runuser was not found".into(),
        });
    }
    let no_user = |_| PgError::CannotDropRoot {
        reason: "there is no `postgres` user".into(),
    };
    let uid = id_number(&["-u", "postgres"]).await.map_err(no_user)?;
    let gid = id_number(&["-g", "postgres"]).await.map_err(no_user)?;
    Ok(Account { uid, gid })
}

async fn id_number(args: &[&str]) -> Result<u32, PgError> {
    let action = format!("id {}", args.join(" "));
    let mut cmd = Command::new("id");
    cmd.args(args);
    let out = output(cmd, &action).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(failed(&action, &out));
    }
    text.trim().parse().map_err(|_| PgError::CommandFailed {
        action,
        status: "unexpected output".into(),
        output: text.trim().to_owned(),
    })
}

/// How long a helper command may take before we give up on it; pg_ctl gets
/// its own, shorter, -t on top of this.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a command to completion, capturing its output, whatever its exit code.
pub(crate) async fn output(mut cmd: Command, action: &str) -> Result<Output, PgError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = PathBuf::from(cmd.get_program());
    let mut cmd = tokio::process::Command::from(cmd);
    // A timed-out helper must not outlive us (pg_ctl's server does, on purpose:
    // pg_ctl puts it in its own session).
    cmd.kill_on_drop(true);
    match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(source)) => Err(PgError::Spawn { program, source }),
        Err(_) => Err(PgError::CommandTimedOut {
            action: action.to_owned(),
            secs: COMMAND_TIMEOUT.as_secs(),
        }),
    }
}

/// Runs a command and fails unless it exits 0.
pub(crate) async fn run(cmd: Command, action: &str) -> Result<Output, PgError> {
    let out = output(cmd, action).await?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(failed(action, &out))
    }
}

pub(crate) fn failed(action: &str, out: &Output) -> PgError {
    let mut text = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stdout.trim());
    }
    PgError::CommandFailed {
        action: action.to_owned(),
        status: out.status.to_string(),
        output: last_chars(&text, 4000),
    }
}

fn last_chars(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        s.to_owned()
    } else {
        let tail: String = s.chars().skip(count - max).collect();
        format!("...{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15.18")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 16beta1").as_deref(),
            Some("16")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6.24")
        );
        assert_eq!(parse_version("something else"), None);
        assert_eq!(major_of("15.18"), "15");
        assert_eq!(major_of("9.6.24"), "9.6");
        assert_eq!(major_of("16"), "16");
    }

    #[test]
    fn picks_the_highest_debian_version() {
        let lib = tempfile::tempdir().unwrap();
        for (ver, with_initdb) in [("9.6", true), ("13", true), ("15", true), ("16", false)] {
            let bin = lib.path().join(ver).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            if with_initdb {
                let initdb = bin.join("initdb");
                std::fs::write(&initdb, "#!/bin/sh\n").unwrap();
                std::fs::set_permissions(&initdb, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        std::fs::create_dir_all(lib.path().join("not-a-version/bin")).unwrap();
        assert_eq!(
            highest_debian_bin_dir(lib.path()),
            Some(lib.path().join("15").join("bin"))
        );
        assert_eq!(highest_debian_bin_dir(&lib.path().join("missing")), None);
    }
}
