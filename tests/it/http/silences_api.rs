//! `/api/v1/silences` behind basic auth, driven by `lagwatch silence` (the real binary),
//! and kept across a restart of the whole app.

use crate::support::*;
use std::process::Command;

fn app_config(dir: &std::path::Path, hash: &str) -> lagwatch::config::Config {
    app_config_tls(dir, hash, "")
}

/// `app_config` with `tls` (YAML lines under `web:`) added.
fn app_config_tls(dir: &std::path::Path, hash: &str, tls: &str) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 1s
state_dir: "{d}"
clusters:
  - name: nowhere
    bootstrap_servers: "127.0.0.1:{port}"
    poll_timeout: 500ms
notifiers:
  - name: console
    kind: console
web:
{tls}  basic_auth_users:
    ops: "{hash}"
"#,
        port = free_port(),
        d = dir.display()
    ))
}

/// `lagwatch silence ARGS` against `url`; (exit code, stdout, stderr).
fn cli(url: &str, password: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lagwatch"));
    c.arg("silence")
        .arg("--url")
        .arg(url)
        .arg("--user")
        .arg("ops")
        .args(args);
    c.env_remove("LAGWATCH_PASSWORD");
    if let Some(p) = password {
        c.env("LAGWATCH_PASSWORD", p);
    }
    let out = c.output().expect("run lagwatch silence");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_are_added_listed_expired_behind_auth_and_survive_a_restart() {
    let hash = bcrypt::hash("s3cret-pass", 4).expect("hash");
    let dir = tempfile::tempdir().expect("tempdir");
    let running = lagwatch::app::start(app_config(dir.path(), &hash))
        .await
        .expect("start");
    let url = format!("http://127.0.0.1:{}", running.addr.port());
    let (code, out, err) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || cli(&url, None, &["list"])
    })
    .await
    .expect("join");
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("HTTP 401"), "no password, no silences: {err}");

    let u = url.clone();
    let (add, listed, bad, expired, gone) = tokio::task::spawn_blocking(move || {
        let p = Some("s3cret-pass");
        let add = cli(
            &u,
            p,
            &[
                "add",
                "--group",
                "spark:etl",
                "--reason",
                "backlog_replay",
                "--duration",
                "2h",
                "--comment",
                "replaying on purpose",
                "--created-by",
                "ana",
            ],
        );
        let keep = cli(&u, p, &["add", "--cluster", "prod", "--duration", "1d"]);
        assert_eq!(keep.0, 0, "{keep:?}");
        let listed = cli(&u, p, &["list"]);
        let bad = cli(&u, p, &["add", "--group", "((", "--duration", "1h"]);
        let id = add.1.trim().to_owned();
        let expired = cli(&u, p, &["expire", &id]);
        let gone = cli(&u, p, &["expire", &id]);
        (add, listed, bad, expired, gone)
    })
    .await
    .expect("join");
    assert_eq!(add.0, 0, "{add:?}");
    let id = add.1.trim().to_owned();
    assert_eq!(id.len(), 16, "the new id: {id}");
    assert_eq!(listed.0, 0, "{listed:?}");
    assert!(
        listed.1.contains(&format!("{id}\t1 h 59 min\tgroup=~\"spark:etl\",reason=~\"backlog_replay\"\tana\treplaying on purpose"))
            || listed.1.contains(&format!("{id}\t2 h\tgroup=~\"spark:etl\",reason=~\"backlog_replay\"\tana\treplaying on purpose")),
        "{}",
        listed.1
    );
    assert_eq!(bad.0, 1);
    assert!(
        bad.2
            .contains("HTTP 400: matcher `group` is not a valid regex"),
        "{}",
        bad.2
    );
    assert_eq!(expired, (0, format!("expired {id}\n"), String::new()));
    assert_eq!(gone.0, 1);
    assert!(
        gone.2.contains("HTTP 404: no silence in force"),
        "{}",
        gone.2
    );

    running.stop().await;
    let running = lagwatch::app::start(app_config(dir.path(), &hash))
        .await
        .expect("restart");
    let url = format!("http://127.0.0.1:{}", running.addr.port());
    let after = tokio::task::spawn_blocking(move || cli(&url, Some("s3cret-pass"), &["list"]))
        .await
        .expect("join");
    assert_eq!(after.0, 0, "{after:?}");
    let rows: Vec<&str> = after.1.lines().skip(1).collect();
    assert_eq!(
        rows.len(),
        1,
        "the day-long silence survived, the expired one did not: {}",
        after.1
    );
    assert!(rows[0].contains("cluster=~\"prod\""), "{}", rows[0]);
    running.stop().await;
}

/// lagwatch on HTTPS with a private CA: `lagwatch silence` refuses the unknown issuer, and
/// trusts it with `--ca-file`; a file with no certificate is named in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_trusts_a_private_ca_given_with_ca_file() {
    let pki = super::web_security::pki();
    let state = tempfile::tempdir().expect("tempdir");
    let tls = format!(
        "  tls_cert_file: \"{d}/cert.pem\"\n  tls_key_file: \"{d}/key.pem\"\n",
        d = pki.dir.path().display()
    );
    let hash = bcrypt::hash("s3cret-pass", 4).expect("hash");
    let cfg = app_config_tls(state.path(), &hash, &tls);
    let running = lagwatch::app::start(cfg).await.expect("start");
    let url = format!("https://localhost:{}", running.addr.port());
    let ca = pki.dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).expect("write ca");
    let empty = pki.dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let (untrusted, trusted, no_cert) = tokio::task::spawn_blocking(move || {
        let p = Some("s3cret-pass");
        let ca = ca.display().to_string();
        let empty = empty.display().to_string();
        (
            cli(&url, p, &["list"]),
            cli(&url, p, &["--ca-file", &ca, "list"]),
            cli(&url, p, &["--ca-file", &empty, "list"]),
        )
    })
    .await
    .expect("join");
    assert_eq!(
        untrusted.0, 1,
        "an unknown issuer is refused: {untrusted:?}"
    );
    assert_eq!(trusted.0, 0, "{trusted:?}");
    assert!(trusted.1.starts_with("ID\t"), "{trusted:?}");
    assert_eq!(no_cert.0, 1, "{no_cert:?}");
    assert!(
        no_cert.2.contains("empty.pem: no PEM certificate"),
        "the file is named: {no_cert:?}"
    );
    running.stop().await;
}
