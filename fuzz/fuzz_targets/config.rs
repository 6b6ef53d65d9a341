//! The configuration loader on any file content: a configuration or a
//! list of problems, never a panic.
#![no_main]

use idsync::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("idsync.toml");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _ = Config::load_from(&path, true, std::iter::empty());
});
