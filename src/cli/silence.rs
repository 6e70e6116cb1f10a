//! `lagwatch silence add|list|expire`: the silences of a running lagwatch, through its HTTP
//! API (so the same basic auth applies). The password comes from the environment, never
//! from an argument (which other users could read in the process list).

use crate::http::silences::SilenceList;
use crate::notify::silence::{Matchers, Silence};
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Where the lagwatch is and how to log in.
#[derive(Debug, Args)]
pub struct SilenceArgs {
    /// Base URL of the running lagwatch.
    #[arg(long, env = "LAGWATCH_URL", default_value = "http://127.0.0.1:9358")]
    pub url: String,
    /// Basic auth user (the password is read from LAGWATCH_PASSWORD).
    #[arg(long, env = "LAGWATCH_USER")]
    pub user: Option<String>,
    /// PEM file of the CA that signed lagwatch's `web.tls_cert_file`, trusted besides the
    /// system's roots (for an https:// URL with a private CA).
    #[arg(long, env = "LAGWATCH_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: SilenceAction,
}

/// Silence subcommands.
#[derive(Debug, Subcommand)]
pub enum SilenceAction {
    /// Silence matching incidents for a while; prints the new silence's id.
    Add {
        /// Cluster regex (whole name).
        #[arg(long)]
        cluster: Option<String>,
        /// Group regex (whole name).
        #[arg(long)]
        group: Option<String>,
        /// Topic regex (whole name; "" = incidents about the whole group).
        #[arg(long)]
        topic: Option<String>,
        /// Reason regex, e.g. backlog_replay.
        #[arg(long)]
        reason: Option<String>,
        /// How long, e.g. 2h, 30m.
        #[arg(long)]
        duration: String,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
        /// Who (default: $USER).
        #[arg(long, env = "USER", default_value = "")]
        created_by: String,
    },
    /// List the silences in force.
    List,
    /// End a silence now.
    Expire {
        /// The silence's id.
        id: String,
    },
}

/// Runs the subcommand: 0 done, 1 the API refused or could not be reached.
pub fn main(args: &SilenceArgs) -> ExitCode {
    match run(args) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lagwatch silence: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &SilenceArgs) -> Result<String, String> {
    crate::runtime::rustls_provider();
    let mut builder =
        reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(10));
    if let Some(path) = &args.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "--ca-file {}: no PEM certificate in it",
                path.display()
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let base = format!("{}/api/v1/silences", args.url.trim_end_matches('/'));
    let auth = |r: reqwest::blocking::RequestBuilder| match &args.user {
        Some(u) => r.basic_auth(u, std::env::var("LAGWATCH_PASSWORD").ok()),
        None => r,
    };
    let req = match &args.action {
        SilenceAction::Add {
            cluster,
            group,
            topic,
            reason,
            duration,
            comment,
            created_by,
        } => auth(client.post(&base)).json(&serde_json::json!({
            "matchers": Matchers {
                cluster: cluster.clone(),
                group: group.clone(),
                topic: topic.clone(),
                reason: reason.clone(),
            },
            "duration": duration,
            "comment": comment,
            "createdBy": created_by,
        })),
        SilenceAction::List => auth(client.get(&base)),
        SilenceAction::Expire { id } => auth(client.delete(format!("{base}/{id}"))),
    };
    let resp = req
        .send()
        .map_err(|e| format!("{}: {}", args.url, e.without_url()))?;
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    if !status.is_success() {
        let msg = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(text);
        return Err(format!("HTTP {}: {}", status.as_u16(), msg.trim()));
    }
    let bad = |e: serde_json::Error| format!("unexpected answer: {e}");
    Ok(match &args.action {
        SilenceAction::Add { .. } => {
            let s: Silence = serde_json::from_str(&text).map_err(bad)?;
            format!("{}\n", s.id)
        }
        SilenceAction::List => {
            let l: SilenceList = serde_json::from_str(&text).map_err(bad)?;
            table(&l.silences, crate::runtime::now())
        }
        SilenceAction::Expire { id } => format!("expired {id}\n"),
    })
}

/// One line per silence: id, time left, matchers, who and why.
pub fn table(list: &[Silence], now: f64) -> String {
    let mut out = String::from("ID\tLEFT\tMATCHERS\tCREATED BY\tCOMMENT\n");
    for s in list {
        let m = &s.matchers;
        let matchers: Vec<String> = [
            ("cluster", &m.cluster),
            ("group", &m.group),
            ("topic", &m.topic),
            ("reason", &m.reason),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}=~\"{v}\"")))
        .collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            s.id,
            crate::view::text::duration(s.ends_at - now),
            matchers.join(","),
            s.created_by,
            s.comment
        ));
    }
    out
}
