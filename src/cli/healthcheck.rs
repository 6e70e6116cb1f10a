//! `lagwatch healthcheck`: the container HEALTHCHECK probe, with no curl in the image.

/// A minimal HTTP/1.0 GET over std, so the runtime image needs no curl.
pub fn probe(url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    if url.starts_with("https://") {
        // Kept plain on purpose: no TLS stack in the probe. See docs/hardening.md.
        return Err(
            "https:// is not supported: with web.tls_* set, probe with the \
                    orchestrator's HTTPS check instead (docs/hardening.md)"
                .into(),
        );
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (hostport, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .map_err(|e| format!("{hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport}: no address"))?;
    let timeout = std::time::Duration::from_secs(3);
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    // One write: a server may answer and close after the first segment it reads.
    let req = format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(|e| e.to_string())?;
    let status = buf.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{url} answered `{status}`"))
    }
}
