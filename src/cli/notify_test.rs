//! `lagwatch notify-test`: sends the seed incident to the configured notifiers.

use std::process::ExitCode;

/// Sends the sample; exit 0 only when every chosen notifier accepted it.
pub fn main(config: &std::path::Path, notifier: Option<&str>) -> ExitCode {
    let cfg = match crate::config::load_file(config) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = match super::runtime(false, ExitCode::FAILURE) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let cluster = cfg.clusters.first().map_or("example", |c| c.name.as_str());
    let sent = rt.block_on(crate::notify::sample::send(
        &cfg.notifiers,
        notifier,
        cluster,
        crate::runtime::now(),
    ));
    match sent {
        Err(e) => {
            eprintln!("lagwatch notify-test: {e}");
            ExitCode::from(2)
        }
        Ok(results) => {
            let mut ok = true;
            for (name, res) in results {
                match res {
                    Ok(()) => println!("{name}: sent"),
                    Err(e) => {
                        ok = false;
                        eprintln!("{name}: FAILED: {e}");
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
