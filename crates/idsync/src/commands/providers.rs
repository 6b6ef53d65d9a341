//! `idsync providers`: what each provider module says about itself, so the
//! keys and setup steps people read come from the code that reads them.

use std::process::ExitCode;

use anyhow::Result;
use idsync_providers::{ProviderDef, registry};

pub fn run(only: Option<&str>) -> Result<ExitCode> {
    let defs = match only {
        Some(name) => vec![registry::lookup(name)?],
        None => registry::PROVIDERS.to_vec(),
    };
    for (i, def) in defs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", describe(*def));
    }
    Ok(ExitCode::SUCCESS)
}

/// A provider's description as text.
fn describe(def: &dyn ProviderDef) -> String {
    let info = def.info();
    let mut out = format!("{} (provider = \"{}\")\n", info.display_name, info.name);
    out.push_str(&format!("  docs:    {}\n", info.docs_url));
    out.push_str(&format!(
        "  console: {} ({})\n",
        info.console_name, info.console_url
    ));
    out.push_str("  keys:\n");
    for key in info.keys {
        let default = match (key.default, key.secret) {
            (Some(d), _) => format!(" (default {d})"),
            (None, true) => format!(" (required; or {}_file)", key.name),
            (None, false) => " (required)".to_owned(),
        };
        out.push_str(&format!("    {}{default}: {}\n", key.name, key.help));
    }
    out.push_str("  setup:\n");
    for (n, step) in info
        .push_steps(&format!("{{public_url}}{}", def.push_path()))
        .iter()
        .enumerate()
    {
        out.push_str(&format!("    {}. {step}\n", n + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's provider sections list every key each provider reads.
    #[test]
    fn readme_documents_every_provider_key() {
        let readme = include_str!("../../../../README.md");
        for def in registry::PROVIDERS {
            let info = def.info();
            assert!(
                readme.contains(&format!("provider = \"{}\"", info.name)),
                "README has no example connection for {}",
                info.name
            );
            for key in info.keys {
                assert!(
                    readme.contains(&format!("`{}`", key.name)),
                    "README does not document {}'s key {}",
                    info.name,
                    key.name
                );
            }
        }
    }

    #[test]
    fn descriptions_name_every_key_and_step() {
        for def in registry::PROVIDERS {
            let text = describe(*def);
            for key in def.info().keys {
                assert!(text.contains(key.name), "{text}");
            }
            assert!(
                text.contains(&format!("{{public_url}}{}", def.push_path())),
                "{text}"
            );
        }
    }
}
