use std::process::ExitCode;

use anyhow::Result;
use idsync_server::admin::dto::Status;
use idsync_store::runs::RunRow;
use idsync_store::status::{ConnectionStatus, connection_status};

use crate::config::Config;
use crate::runtime;

pub async fn run(config: Config, json: bool) -> Result<ExitCode> {
    let pool = runtime::pool(&config).await?;
    let tables: Vec<_> = config.connections.iter().map(|c| c.table.clone()).collect();
    if !idsync_store::migrate::is_migrated(&pool, &tables).await? {
        anyhow::bail!("the database is not migrated yet: run `idsync migrate` or `idsync serve`");
    }
    let mut all = Vec::new();
    for c in &config.connections {
        let mut status = connection_status(&pool, c.name.as_str(), &c.table).await?;
        if let Some(tables) =
            idsync_server::served::tables_of(c.name.as_str(), &c.table, &c.provider)
        {
            status.served = Some(idsync_store::status::served_status(&pool, &tables).await?);
        }
        all.push(status);
    }
    if json {
        let all: Vec<Status> = all.into_iter().map(Status::from).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        for s in &all {
            print_text(s);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_line(run: Option<&RunRow>) -> String {
    let Some(r) = run else {
        return "never".to_owned();
    };
    let when = r
        .finished_at
        .unwrap_or(r.started_at)
        .format("%Y-%m-%d %H:%M:%S UTC");
    let counts = format!(
        "{} listed, {} added, {} updated, {} deleted, {} unchanged",
        r.seen, r.added, r.updated, r.deleted, r.unchanged
    );
    match &r.error {
        Some(e) => format!("{} at {when}: {e} ({counts})", r.status),
        None => format!("{} at {when} ({counts})", r.status),
    }
}

fn print_text(s: &ConnectionStatus) {
    println!("{} → {}", s.connection, s.table);
    println!(
        "  users:          {} active, {} deleted",
        s.active_users, s.deleted_users
    );
    println!(
        "  last webhook:   {}",
        s.last_webhook_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "never".to_owned())
    );
    if let Some(served) = &s.served {
        println!(
            "  groups:         {} active, {} memberships",
            served.groups, served.memberships
        );
        if served.recent_requests.is_empty() {
            println!("  SCIM requests:  none yet");
        } else {
            println!("  SCIM requests:");
            for r in &served.recent_requests {
                println!(
                    "    {} {} {} → {} {}",
                    r.at.format("%Y-%m-%d %H:%M:%S"),
                    r.method,
                    r.path,
                    r.status,
                    r.outcome
                );
            }
        }
    } else {
        println!("  last backfill:  {}", run_line(s.last_backfill.as_ref()));
        println!("  last reconcile: {}", run_line(s.last_reconcile.as_ref()));
    }
    if let Some(run) = &s.last_incremental_reconcile {
        println!("  last incremental reconcile: {}", run_line(Some(run)));
    }
    let r = &s.refresh;
    if r.queued + r.done > 0 {
        println!(
            "  refresh:        {} queued, {} done, {} failing",
            r.queued, r.done, r.failing
        );
    }
    if s.recent_errors.is_empty() {
        println!("  recent errors:  none");
    } else {
        println!("  recent errors:");
        for e in &s.recent_errors {
            println!(
                "    {} [{}] {}",
                e.at.format("%Y-%m-%d %H:%M:%S"),
                e.source,
                e.message
            );
        }
    }
}
