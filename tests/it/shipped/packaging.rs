//! Packaging, checked statically (no Docker engine runs here): every file the compose stack
//! and the Dockerfile use exists, and the stack's lagwatch config validates.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compose_mounts_exist_and_config_validates() {
    let dir = root().join("examples/compose");
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).expect("compose file");
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("compose YAML parses");
    let services = doc["services"].as_object().expect("services");
    for want in [
        "kafka",
        "producer",
        "slow-consumer",
        "lagwatch",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        assert!(services.contains_key(want), "service {want} missing");
    }
    let mut checked = 0;
    for (name, svc) in services {
        for v in svc["volumes"].as_array().into_iter().flatten() {
            let spec = v.as_str().expect("short volume syntax");
            let host = spec.split(':').next().unwrap_or("");
            if host.starts_with('.') {
                let p = dir.join(host);
                assert!(
                    p.exists(),
                    "service {name}: mounted path {} does not exist",
                    p.display()
                );
                checked += 1;
            }
        }
        if let Some(ctx) = svc["build"].as_str() {
            assert!(
                dir.join(ctx).join("Dockerfile").exists(),
                "service {name}: no Dockerfile in {ctx}"
            );
        }
    }
    assert!(checked >= 8, "only {checked} mounts checked");
    let cfg = lagwatch::config::load_file(&dir.join("lagwatch.yaml"));
    assert!(
        cfg.is_ok(),
        "{}",
        cfg.err().map(|e| e.to_string()).unwrap_or_default()
    );
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_healthcheck() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    assert!(
        text.matches("\nFROM ").count() + usize::from(text.starts_with("FROM ")) >= 2,
        "multi-stage"
    );
    assert!(text.contains("USER lagwatch"));
    assert!(text.contains("HEALTHCHECK"));
    assert!(text.contains("/etc/lagwatch/lagwatch.yaml"));
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            assert!(
                Path::new(&root()).join(src).exists() || *src == ".",
                "COPY source {src} missing"
            );
        }
    }
}

#[test]
fn healthcheck_subcommand_reports_down_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagwatch"))
        .args([
            "healthcheck",
            "--url",
            &format!("http://127.0.0.1:{port}/healthz"),
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn healthcheck_subcommand_accepts_200() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut req = String::new();
        let mut buf = [0u8; 1024];
        while !req.contains("\r\n\r\n") {
            let n = s.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            req.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        s.write_all(b"HTTP/1.0 200 OK\r\n\r\nok\n").expect("write");
        req
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagwatch"))
        .args([
            "healthcheck",
            "--url",
            &format!("http://127.0.0.1:{port}/healthz"),
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server
        .join()
        .expect("server")
        .starts_with("GET /healthz HTTP/1.0"));
}
