//! What every command shares: the tokio runtime, the TLS crypto provider, the shutdown
//! signal and the clock.

use std::sync::Once;

/// Current wall-clock time as Unix seconds (the only place lagwatch reads the clock for data).
///
/// Rounded down to a multiple of 1/1024 s: such times are exact in an `f64` and so are
/// their differences, which lets the model's history rings keep a time as a 32-bit count of
/// ticks (`model::history`). A millisecond is far below any poll interval.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| {
            let ticks = d.as_secs() * 1024 + u64::from(d.subsec_nanos()) * 1024 / 1_000_000_000;
            ticks as f64 / 1024.0
        })
        .unwrap_or(0.0)
}

/// A tokio runtime for a subcommand.
pub fn build(multi_thread: bool) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build()
}

/// reqwest and the HTTPS server are built without a default crypto provider; ring is
/// installed once per process, whichever command needs it first.
pub fn rustls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only means another provider was installed first (a test harness, say);
        // any provider serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
