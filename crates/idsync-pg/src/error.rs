use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while finding, initialising, starting or
/// stopping the private server. Messages say what to do about it, because
/// they end up in front of whoever runs `idsync dev` or a test suite.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    #[error(
        "PostgreSQL's initdb was not found on PATH or under /usr/lib/postgresql/*/bin; \
         install PostgreSQL (apt-get install postgresql), or set IDSYNC_PG_BIN_DIR to the \
         directory that holds initdb, pg_ctl and postgres"
    )]
    NotInstalled,

    #[error(
        "IDSYNC_PG_BIN_DIR={dir} has no executable initdb; point it at PostgreSQL's bin \
         directory (e.g. /usr/lib/postgresql/15/bin) or unset it"
    )]
    BadBinDir { dir: PathBuf },

    #[error(
        "PostgreSQL's {tool} was not found in {bin_dir} nor on PATH; install the complete \
         PostgreSQL server and client packages (apt-get install postgresql)"
    )]
    MissingTool {
        tool: &'static str,
        bin_dir: PathBuf,
    },

    #[error(
        "idsync runs as root and PostgreSQL refuses to, so the server must run as the \
         `postgres` user, but {reason}; install PostgreSQL's server package (it creates that \
         user and util-linux's runuser is part of every Debian), or run idsync as a non-root user"
    )]
    CannotDropRoot { reason: String },

    #[error(
        "the PostgreSQL server runs as the `postgres` user (idsync runs as root), but that user \
         cannot enter {dir} (mode {mode:o}); use a data directory outside it, run idsync as a \
         non-root user, or allow traversal with `chmod o+x {dir}`"
    )]
    NotTraversable { dir: PathBuf, mode: u32 },

    #[error("could not run {program}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{action} failed ({status}): {output}")]
    CommandFailed {
        action: String,
        status: String,
        output: String,
    },

    #[error("{action} did not finish within {secs} s")]
    CommandTimedOut { action: String, secs: u64 },

    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "{path} is not empty but is not a PostgreSQL data directory (it has no PG_VERSION); \
         remove it or choose another data directory"
    )]
    NotADataDir { path: PathBuf },

    #[error(
        "{path} was created by PostgreSQL {data_version} but the installed PostgreSQL is \
         {installed}; remove that directory to start afresh (its data is lost) or upgrade it \
         with pg_upgrade"
    )]
    VersionMismatch {
        path: PathBuf,
        data_version: String,
        installed: String,
    },

    #[error(
        "a PostgreSQL server (pid {pid}{port}) is already running on data directory {data_dir}, \
         probably another `idsync dev`; stop that one first, or stop the server with \
         `pg_ctl stop -D {data_dir}` (run as the postgres user if you are root)",
        port = port.map(|p| format!(", port {p}")).unwrap_or_default()
    )]
    AlreadyRunning {
        data_dir: PathBuf,
        pid: u32,
        port: Option<u16>,
    },

    #[error(
        "port {port} on 127.0.0.1 is already in use; choose another port or stop the program \
         listening there"
    )]
    PortInUse { port: u16 },

    #[error("could not find a free TCP port on 127.0.0.1: {0}")]
    NoFreePort(#[source] io::Error),

    #[error(
        "PostgreSQL did not start on 127.0.0.1:{port} (data directory {data_dir}): {reason}\n\
         --- last lines of {log} ---\n{log_tail}"
    )]
    StartFailed {
        port: u16,
        data_dir: PathBuf,
        log: PathBuf,
        reason: String,
        log_tail: String,
    },
}

impl PgError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        PgError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
