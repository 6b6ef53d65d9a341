use std::process::ExitCode;

/// glibc's allocator spent a fifth of a backfill's CPU on its free lists
/// (large JSON pages, freed out of order); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    idsync::cli::main()
}
