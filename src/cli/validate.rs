//! `lagwatch validate`: every problem of a config file, each with file, line and field.

use std::process::ExitCode;

/// Validates `config`; exit 0 when valid, 2 with every problem printed otherwise.
pub fn main(config: &std::path::Path) -> ExitCode {
    match crate::config::load_file(config) {
        Ok(c) => {
            println!(
                "{}: OK ({} cluster(s), {} notifier(s))",
                config.display(),
                c.clusters.len(),
                c.notifiers.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::from(2)
        }
    }
}
