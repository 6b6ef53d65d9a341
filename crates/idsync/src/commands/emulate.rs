//! `idsync emulate <provider>`: a provider emulator for local testing.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use idsync_emulator::{
    Delivery, Emulator, EmulatorConfig, ProviderKind, RateLimit, UserChange, WebhookTarget,
};

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// stack_auth, clerk or okta.
    pub provider: ProviderKind,
    /// Address of the emulated API.
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,
    /// Users generated at start.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Answer 429 beyond this many API requests per second.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Send a webhook (Okta: an event hook delivery) for every change to
    /// this URL. Okta's emulator also delivers to the event hooks registered
    /// through its API; an event goes to a URL once, even if both name it.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Webhook signing secret (whsec_...), for Okta the event hook's
    /// Authorization value [default: a new random one].
    #[arg(long, env = "IDSYNC_EMULATE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Make a random change (create, update or delete) this often, e.g. "2s".
    #[arg(long, value_parser = humantime::parse_duration)]
    pub changes_every: Option<Duration>,
    /// Make this many random changes at once, send their webhooks to
    /// --webhook-url (in order, or see --shuffled), print the answers, exit.
    #[arg(long, requires = "webhook_url", conflicts_with = "changes_every")]
    pub send_changes: Option<usize>,
    /// With --send-changes: deliver in random order, as Svix and Okta may.
    #[arg(long, requires = "send_changes")]
    pub shuffled: bool,
    /// With --shuffled: the fraction of events delivered twice.
    #[arg(long, default_value_t = 0.0, requires = "shuffled")]
    pub duplicates: f64,
}

pub async fn run(args: &EmulateArgs) -> Result<ExitCode> {
    let mut config = EmulatorConfig::new(args.provider);
    config.seed_users = args.users;
    config.rng_seed = args.seed;
    config.rate_limit = args.rate_limit.map(|requests| RateLimit {
        requests,
        per: Duration::from_secs(1),
    });
    if let Some(secret) = &args.webhook_secret {
        config.webhook_secret = secret.clone();
    }
    let emulator = Emulator::start(config, args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let (Some(n), Some(url)) = (args.send_changes, &args.webhook_url) {
        return send_batch(&emulator, url, n, args).await;
    }
    if let Some(url) = &args.webhook_url {
        emulator
            .auto_deliver(Some(WebhookTarget {
                url: url.clone(),
                secret: emulator.config().webhook_secret.clone(),
            }))
            .context("--webhook-secret")?;
    }
    print_connection(&emulator, "emulated");
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        () = super::shutdown_signal() => {},
        () = change_stream(&emulator, args.changes_every) => {},
    }
    emulator.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Makes `n` changes, then delivers their webhooks as asked and summarises
/// the answers. Fails if any delivery was not accepted.
async fn send_batch(
    emulator: &Emulator,
    url: &str,
    n: usize,
    args: &EmulateArgs,
) -> Result<ExitCode> {
    for _ in 0..n {
        emulator.random_change();
        // One change per second of provider time keeps versions distinct.
        emulator.advance_clock(chrono::Duration::seconds(1));
    }
    let events = emulator.take_events();
    let sender = emulator
        .sender(WebhookTarget {
            url: url.to_owned(),
            secret: emulator.config().webhook_secret.clone(),
        })
        .context("--webhook-secret")?;
    let delivery = if args.shuffled {
        Delivery::Shuffled {
            duplicates: args.duplicates,
            seed: args.seed,
        }
    } else {
        Delivery::InOrder
    };
    let results = sender.send_all(&events, delivery).await;
    let mut by_status: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, result) in &results {
        let key = match result {
            Ok(status) => status.as_u16().to_string(),
            Err(e) => format!("error: {e}"),
        };
        *by_status.entry(key).or_default() += 1;
    }
    println!(
        "sent {} deliveries of {} events to {url}:",
        results.len(),
        events.len()
    );
    for (status, count) in &by_status {
        println!("  {status}: {count}");
    }
    let all_ok = results
        .iter()
        .all(|(_, r)| r.as_ref().is_ok_and(|s| s.is_success()));
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints the emulator's API URL and an idsync.toml connection for it.
pub fn print_connection(emulator: &Emulator, name: &str) {
    let c = emulator.config();
    println!(
        "Emulated {} API at {} with {} users.",
        c.kind,
        emulator.base_url(),
        emulator.users().len()
    );
    println!("idsync.toml connection for it:\n");
    println!(
        "[[connections]]\nname = \"{name}\"\nprovider = \"{}\"",
        c.kind
    );
    for (key, value) in emulator.connection_keys() {
        println!("{key} = \"{value}\"");
    }
    println!();
    if c.kind == ProviderKind::Okta {
        let org = emulator.base_url();
        println!("Okta org URL:     {org}");
        println!("API token:        SSWS {}", c.api_key);
        println!("Issuer:           {org} (discovery: {org}/.well-known/openid-configuration)");
        println!(
            "Sign-in password: {} (every generated user, with its login)",
            idsync_emulator::DEV_PASSWORD
        );
        println!(
            "Event hooks:      events go to every hook registered at {org}/api/v1/eventHooks that is verified and active (`idsync connect` registers one)"
        );
        println!();
    }
}

/// Makes a random change every `every`, printing it; never ends (or ends at
/// once when `every` is `None` by waiting forever).
pub async fn change_stream(emulator: &Emulator, every: Option<Duration>) {
    let Some(every) = every else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match emulator.random_change() {
            UserChange::Created(u) => println!("provider: created {}", describe(&u)),
            UserChange::Updated(u) => println!("provider: updated {}", describe(&u)),
            UserChange::Deleted(id) => println!("provider: deleted {id}"),
        }
    }
}

fn describe(user: &serde_json::Value) -> String {
    let id = user["id"].as_str().unwrap_or("?");
    // Stack Auth's display name, Clerk's or Okta's (profile) first and last names.
    let names = |first: &str, last: &str| {
        let first = user.pointer(first).and_then(|n| n.as_str()).unwrap_or("");
        let last = user.pointer(last).and_then(|n| n.as_str()).unwrap_or("");
        Some(format!("{first} {last}").trim().to_owned()).filter(|s| !s.is_empty())
    };
    let name = user
        .get("display_name")
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .or_else(|| names("/first_name", "/last_name"))
        .or_else(|| names("/profile/firstName", "/profile/lastName"))
        .unwrap_or_else(|| "(no name)".to_owned());
    format!("{id} ({name})")
}
