//! Job progress for the terminal: a bar (or spinner, when the provider
//! cannot tell the total) on a TTY, plain lines otherwise, and log events
//! when logs are JSON (so stderr stays one JSON object a line).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use idsync_store::runs::{JobKind, RunCounts};
use idsync_sync::{LogProgress, Progress};
use indicatif::{ProgressBar, ProgressStyle};

use crate::telemetry::LogFormat;

pub enum CliProgress {
    Bar(ProgressBar),
    Lines {
        connection: String,
        last: Mutex<Instant>,
    },
    Log(LogProgress),
}

impl CliProgress {
    pub fn new(connection: &str, format: LogFormat) -> Self {
        if format == LogFormat::Json {
            Self::Log(LogProgress::new(connection))
        } else if std::io::stderr().is_terminal() {
            Self::Bar(ProgressBar::hidden())
        } else {
            Self::Lines {
                connection: connection.to_owned(),
                last: Mutex::new(Instant::now()),
            }
        }
    }
}

fn summary(c: RunCounts) -> String {
    format!(
        "{} seen: {} added, {} updated, {} deleted, {} unchanged",
        c.seen, c.added, c.updated, c.deleted, c.unchanged
    )
}

impl Progress for CliProgress {
    fn started(&self, job: JobKind, total: Option<u64>, resumed: RunCounts) {
        match self {
            Self::Bar(bar) => {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                let style = match total {
                    Some(t) => {
                        bar.set_length(t);
                        ProgressStyle::with_template(
                            "{prefix} [{bar:30}] {human_pos}/{human_len} users, eta {eta} {msg}",
                        )
                    }
                    None => ProgressStyle::with_template(
                        "{prefix} {spinner} {human_pos} users, {elapsed} {msg}",
                    ),
                };
                if let Ok(style) = style {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(job.as_str());
                bar.set_position(resumed.seen.max(0) as u64);
                bar.enable_steady_tick(Duration::from_millis(200));
            }
            Self::Lines { connection, .. } => {
                let resumed = if resumed.pages > 0 {
                    format!(", resuming after {} users", resumed.seen)
                } else {
                    String::new()
                };
                let total = total.map(|t| format!(" of {t} users")).unwrap_or_default();
                eprintln!("{connection}: {job} started{total}{resumed}");
            }
            Self::Log(log) => log.started(job, total, resumed),
        }
    }

    fn page(&self, so_far: RunCounts) {
        match self {
            Self::Bar(bar) => {
                bar.set_position(so_far.seen.max(0) as u64);
                bar.set_message(format!(
                    "{} added, {} updated",
                    so_far.added, so_far.updated
                ));
            }
            Self::Lines { connection, last } => {
                let Ok(mut last) = last.lock() else { return };
                if last.elapsed() >= Duration::from_secs(2) {
                    *last = Instant::now();
                    eprintln!("{connection}: {}", summary(so_far));
                }
            }
            Self::Log(log) => log.page(so_far),
        }
    }

    fn finished(&self, counts: RunCounts) {
        match self {
            // The command prints the summary itself.
            Self::Bar(bar) => bar.finish_and_clear(),
            Self::Lines { connection, .. } => eprintln!("{connection}: done, {}", summary(counts)),
            Self::Log(log) => log.finished(counts),
        }
    }
}
