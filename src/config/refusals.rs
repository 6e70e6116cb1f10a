//! What `run` refuses at start, checked while the file is read so `validate` (and a SIGHUP
//! reload) refuses it first, with the line: librdkafka properties, checkpoint locations,
//! `state_dir`, and Spark queries that would report the same group. Each check builds what
//! `run` builds, without connecting to anything.

use super::cluster::{ClusterConfig, SparkQueryConfig};
use super::env::Text;
use super::reader::{join, Cx};
use super::security::{self, KafkaClient};
use super::yaml::{Kind, Node, Pos};
use rdkafka::client::{Client, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::types::{RDKafkaConfRes, RDKafkaType};

/// Each `client:` property as librdkafka takes it, then the whole client as `run` creates
/// it (minus the brokers, so nothing connects): unknown names, values librdkafka refuses,
/// unreadable `ssl.*.location` files. Values may be secrets and are never printed.
pub(super) fn client_properties(
    cx: &mut Cx<'_>,
    node: Option<&Node>,
    path: &str,
    c: &ClusterConfig,
) {
    let field = join(path, "client");
    let mut refused = false;
    // OAUTHBEARER's properties on a cluster the fast path reads are the fast path's: it
    // makes or fetches the token itself, and this build's librdkafka cannot fetch one (OIDC
    // needs libcurl). librdkafka is then only a fallback, made without them.
    let fast = c.kafka_client != KafkaClient::Librdkafka
        && (c.aws_msk_iam.is_some() || security::from_client(&c.client).is_ok());
    let fast_only = |key: &str| fast && key.starts_with("sasl.oauthbearer.");
    if let Some(Node {
        kind: Kind::Map(entries),
        ..
    }) = node
    {
        for (key, kpos, _) in entries {
            // A value that is not a string was reported already and is not in `c.client`.
            let Some((_, value)) = c.client.iter().find(|(k, _)| k == key) else {
                continue;
            };
            if fast_only(key) {
                continue;
            }
            let mut one = ClientConfig::new();
            one.set(key, value);
            if let Err(e) = one.create_native_config() {
                refused = true;
                cx.error(*kpos, &join(&field, key), property_message(key, value, &e));
            }
        }
    }
    if refused {
        return;
    }
    let mut all = c.client_config();
    all.remove("bootstrap.servers");
    for (k, _) in &c.client {
        if fast_only(k) {
            all.remove(k);
        }
    }
    let created = all.create_native_config().and_then(|native| {
        Client::new(
            &all,
            native,
            RDKafkaType::RD_KAFKA_PRODUCER,
            DefaultClientContext,
        )
    });
    if let Err(e) = created {
        let pos = node.map_or(Pos::default(), |n| n.pos);
        let mut text = e.to_string();
        for (_, v) in &c.client {
            text = hide(&text, v);
        }
        cx.error(
            pos,
            &field,
            format!("librdkafka cannot create a client from these properties: {text}"),
        );
    }
}

fn property_message(key: &str, value: &str, e: &KafkaError) -> String {
    match e {
        KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, ..) => format!(
            "unknown librdkafka property `{key}` (see librdkafka's CONFIGURATION.md for the names)"
        ),
        KafkaError::ClientConfig(_, description, ..) => {
            // librdkafka quotes the value in its description (`Invalid value "x" for ...`).
            format!(
                "librdkafka refuses the value of `{key}`: {}",
                hide(description, value)
            )
        }
        _ => format!("librdkafka refuses `{key}`"),
    }
}

/// `text` without `value`: quoted as librdkafka quotes it, and bare when long enough to be
/// a secret (a bare `5` would also hit the digits of a range librdkafka names).
fn hide(text: &str, value: &str) -> String {
    if value.is_empty() {
        return text.to_owned();
    }
    let out = text.replace(&format!("\"{value}\""), "(value not shown)");
    if value.len() >= 4 {
        out.replace(value, "(value not shown)")
    } else {
        out
    }
}

/// The checkpoint location as `run` opens it: a path, `file://`, `s3://` or `s3a://`, and a
/// root the object store accepts (no I/O).
pub(super) fn checkpoint(cx: &mut Cx<'_>, pos: Pos, field: &str, raw: &Text) {
    use object_store::path::Path;
    let why = match super::parse_location(&raw.value) {
        Ok(super::Location::Local(dir)) => {
            Path::from_absolute_path(&dir).err().map(|e| e.to_string())
        }
        Ok(super::Location::S3 { prefix, .. }) => Path::parse(&prefix).err().map(|e| e.to_string()),
        Err(message) => Some(message),
    };
    let Some(why) = why else {
        return;
    };
    // The parser's words quote parts of the value: only for a value written in the file.
    let why = if raw.from_env {
        "not a local path, file://, s3:// or s3a:// URL".to_owned()
    } else {
        why
    };
    cx.error(pos, field, format!("checkpoint {}: {why}", raw.shown));
}

/// `state_dir` must be a directory or not exist yet (it is created at start).
pub(super) fn state_dir(cx: &mut Cx<'_>, pos: Pos, dir: &Text) {
    match std::fs::metadata(&dir.value) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => cx.error(
            pos,
            "state_dir",
            format!(
                "{} exists and is not a directory (incident state is kept in a directory)",
                dir.shown
            ),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => cx.error(pos, "state_dir", format!("cannot use {}: {e}", dir.shown)),
    }
}

/// Two queries of a cluster with one name, or one group reported twice (by two queries, or
/// by a query and a Kafka group watched by name): their series would overwrite each other.
/// Groups found by `include` regexes are only known when polling and are not checked here.
pub(super) fn spark_names(
    cx: &mut Cx<'_>,
    queries: &[(String, &Node, SparkQueryConfig)],
    kafka_names: &[(String, Pos)],
) {
    for (i, (qp, qn, q)) in queries.iter().enumerate() {
        let earlier = &queries[..i];
        if let Some((_, first, _)) = earlier.iter().find(|(_, _, e)| e.name == q.name) {
            cx.error(
                super::value_pos(qn, "name"),
                &join(qp, "name"),
                format!(
                    "duplicate Spark query name `{}` (first at line {}) in this cluster",
                    q.name,
                    super::value_pos(first, "name").line
                ),
            );
            continue;
        }
        let field = if has_key(qn, "group") {
            "group"
        } else {
            "name"
        };
        let pos = super::value_pos(qn, field);
        if let Some((_, first, _)) = earlier.iter().find(|(_, _, e)| e.group == q.group) {
            cx.error(
                pos,
                &join(qp, field),
                format!(
                    "group `{}` is already reported by the Spark query at line {}: two \
                     queries would write the same series",
                    q.group, first.pos.line
                ),
            );
        } else if let Some((_, kpos)) = kafka_names.iter().find(|(n, _)| *n == q.group) {
            cx.error(
                pos,
                &join(qp, field),
                format!(
                    "group `{}` is also a Kafka consumer group watched by name (line {}): \
                     the query's lag would overwrite the real group's; set another `group`",
                    q.group, kpos.line
                ),
            );
        }
    }
}

fn has_key(node: &Node, key: &str) -> bool {
    matches!(&node.kind, Kind::Map(e) if e.iter().any(|(k, _, _)| k == key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librdkafka_says_what_is_wrong_without_the_value() {
        // Rows: property, value, the message has, why.
        let rows = [
            (
                "sasl.passwrd",
                "s3cret-pass",
                "unknown librdkafka property `sasl.passwrd`",
                "a misspelt name",
            ),
            (
                "security.protocol",
                "bogus-secret",
                "librdkafka refuses the value of `security.protocol`",
                "a value librdkafka does not know",
            ),
            (
                "socket.timeout.ms",
                "5",
                "10..300000",
                "a short value is not hidden, so the range stays readable",
            ),
        ];
        for (key, value, want, why) in rows {
            let mut one = ClientConfig::new();
            one.set(key, value);
            let Err(e) = one.create_native_config() else {
                panic!("{why}: librdkafka accepted it");
            };
            let msg = property_message(key, value, &e);
            assert!(msg.contains(want), "{why}: {msg}");
            if value.len() >= 4 {
                assert!(!msg.contains(value), "{why}: {msg}");
            }
        }
    }
}
