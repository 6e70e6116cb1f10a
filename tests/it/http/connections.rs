//! Connections that never finish a request are closed: a half-open client (connects, sends
//! nothing), one that stops mid-header, and an idle keep-alive connection after a scrape.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Whether the server closes `s` within `within` (EOF or reset), reading whatever it sends.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let start = Instant::now();
    s.set_read_timeout(Some(within)).expect("read timeout");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed() <= within,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_half_open_and_slow_header_connections_are_closed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok\n" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lagwatch::http::serve_app_with(
        listener,
        app,
        None,
        async {
            let _ = stopped.await;
        },
        Duration::from_millis(300),
    ));
    let checks = tokio::task::spawn_blocking(move || {
        // Rows: what the client sends before going quiet, why it must be closed.
        let rows: [(&[u8], &str); 3] = [
            (b"", "half-open: connected, never sent a byte"),
            (
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
                "stopped in the middle of the header",
            ),
            (
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                "idle keep-alive after a complete request",
            ),
        ];
        for (sent, why) in rows {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(sent).expect("send");
            assert!(closed_within(&mut s, Duration::from_secs(5)), "{why}");
        }
    });
    checks.await.expect("checks");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}
