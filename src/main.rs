//! The `lagwatch` binary: parse the command line and run.

fn main() -> std::process::ExitCode {
    lagwatch::cli::main()
}
