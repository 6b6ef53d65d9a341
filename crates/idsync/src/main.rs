use std::process::ExitCode;

fn main() -> ExitCode {
    idsync::cli::main()
}
