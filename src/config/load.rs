//! Reads the YAML tree into [`Config`], collecting every problem with its line and field.

use super::cx::{join, ConfigError, ConfigErrors, Cx, EnvLookup, MapView};
use super::yaml::{self, Node};
use super::*;
use std::collections::HashSet;

const ROOT_KEYS: &[&str] = &[
    "listen",
    "poll_interval",
    "clusters",
    "rules",
    "notifiers",
    "state_dir",
    "shutdown_timeout",
    "web",
];
const CLUSTER_KEYS: &[&str] = &[
    "name",
    "bootstrap_servers",
    "groups",
    "topics",
    "client",
    "poll_timeout",
    "spark_queries",
    "batched_offsets",
];
const THRESHOLD_KEYS: &[&str] = &[
    "lag_warning",
    "lag_critical",
    "headroom",
    "backlog_min_messages",
    "backlog_min_seconds",
    "rate_window",
    "stopped_after",
    "for_polls",
    "backlog_replay_fraction",
];
const NOTIFIER_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "url_file",
    "groups",
    "topics",
    "min_severity",
    "dashboard_url",
    "repeat_interval",
    "queue_size",
    "timeout",
];
const SPARK_KEYS: &[&str] = &["name", "group", "checkpoint", "s3"];
const S3_KEYS: &[&str] = &[
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "allow_http",
];

/// Reads and validates a config file; every problem is reported with file, line and field.
pub fn load_file(path: &std::path::Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    let env = |k: &str| std::env::var(k).ok();
    from_str(&file, &text, &env)
}

/// Parses config text; `file` is only used in messages, `env` resolves `${VAR}`.
pub fn from_str(file: &str, text: &str, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    let root = yaml::parse(text).map_err(|msg| {
        let line = msg
            .strip_prefix("line ")
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        ConfigErrors(vec![ConfigError {
            file: file.to_owned(),
            line,
            column: 0,
            field: String::new(),
            message: format!("invalid YAML: {msg}"),
        }])
    })?;
    let mut cx = Cx::new(file, env);
    let config = read_root(&mut cx, &root);
    cx.finish()?;
    config.ok_or_else(|| ConfigErrors(Vec::new()))
}

fn read_root(cx: &mut Cx<'_>, root: &Node) -> Option<Config> {
    let m = cx.map(root, "", ROOT_KEYS)?;
    let listen = match cx.opt_string(m, "", "listen") {
        Some(s) => match s.parse() {
            Ok(a) => a,
            Err(_) => {
                let pos = m.get("listen").map(|n| n.pos).unwrap_or_default();
                cx.error(
                    pos,
                    "listen",
                    format!("`{s}` is not an address like 0.0.0.0:9358"),
                );
                default_listen()
            }
        },
        None => default_listen(),
    };
    let poll_interval = cx
        .opt_duration(m, "", "poll_interval")
        .unwrap_or(Duration::from_secs(15));
    let rules = match m.get("rules") {
        Some(n) => read_rules(cx, n, "rules"),
        None => RulesConfig::default(),
    };
    let mut clusters = Vec::new();
    let mut seen = HashSet::new();
    let items = cx.opt_list(m, "", "clusters");
    if items.is_empty() && m.get("clusters").is_none() {
        cx.error(
            m.pos,
            "clusters",
            "missing required key `clusters` (at least one cluster)",
        );
    }
    for (path, node) in items {
        if let Some(c) = read_cluster(cx, node, &path, poll_interval) {
            if !seen.insert(c.name.clone()) {
                cx.error(
                    value_pos(node, "name"),
                    &join(&path, "name"),
                    format!("duplicate cluster name `{}`", c.name),
                );
            }
            clusters.push(c);
        }
    }
    let mut notifiers = Vec::new();
    let mut seen_n = HashSet::new();
    for (path, node) in cx.opt_list(m, "", "notifiers") {
        if let Some(n) = read_notifier(cx, node, &path) {
            if !seen_n.insert(n.name.clone()) {
                cx.error(
                    value_pos(node, "name"),
                    &join(&path, "name"),
                    format!("duplicate notifier name `{}`", n.name),
                );
            }
            notifiers.push(n);
        }
    }
    let state_dir = cx.opt_string(m, "", "state_dir").map(PathBuf::from);
    let shutdown_timeout = cx
        .opt_duration(m, "", "shutdown_timeout")
        .unwrap_or(Duration::from_secs(10));
    let web = m
        .get("web")
        .map(|n| super::web::read_web(cx, n, "web"))
        .unwrap_or_default();
    Some(Config {
        listen,
        poll_interval,
        clusters,
        rules,
        notifiers,
        state_dir,
        shutdown_timeout,
        web,
    })
}

/// Where the value of `key` in mapping `node` starts (the node itself when absent).
fn value_pos(node: &Node, key: &str) -> yaml::Pos {
    match &node.kind {
        yaml::Kind::Map(entries) => entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| v.pos)
            .unwrap_or(node.pos),
        _ => node.pos,
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 9358))
}

fn read_filter(cx: &mut Cx<'_>, m: MapView<'_>, path: &str) -> Filter {
    Filter {
        include: cx.opt_regex_list(m, path, "include"),
        exclude: cx.opt_regex_list(m, path, "exclude"),
    }
}

fn read_cluster(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    interval: Duration,
) -> Option<ClusterConfig> {
    let m = cx.map(node, path, CLUSTER_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let bootstrap_servers = cx.req_string(m, path, "bootstrap_servers");
    if let (Some(b), Some(n)) = (&bootstrap_servers, m.get("bootstrap_servers")) {
        for hp in b.split(',').map(str::trim) {
            let ok = hp
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                cx.error(
                    n.pos,
                    &join(path, "bootstrap_servers"),
                    format!("`{hp}` is not host:port"),
                );
            }
        }
    }
    let groups = match m.get("groups") {
        Some(g) => {
            let gp = join(path, "groups");
            match cx.map(g, &gp, &["names", "include", "exclude"]) {
                Some(gm) => {
                    let names: Vec<String> = cx
                        .opt_string_list(gm, &gp, "names")
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect();
                    let filter = read_filter(cx, gm, &gp);
                    let discover = names.is_empty() || gm.get("include").is_some();
                    GroupFilter {
                        names,
                        discover,
                        filter,
                    }
                }
                None => GroupFilter {
                    discover: true,
                    ..Default::default()
                },
            }
        }
        None => GroupFilter {
            discover: true,
            ..Default::default()
        },
    };
    let topics = match m.get("topics") {
        Some(t) => {
            let tp = join(path, "topics");
            cx.map(t, &tp, &["include", "exclude"])
                .map(|tm| read_filter(cx, tm, &tp))
                .unwrap_or_default()
        }
        None => Filter {
            include: Vec::new(),
            exclude: vec![Regex::new("^__").ok()?],
        },
    };
    let client = cx.opt_string_map(m, path, "client");
    let poll_timeout = cx.opt_duration(m, path, "poll_timeout").unwrap_or(interval);
    let batched_offsets = cx.opt_bool(m, path, "batched_offsets").unwrap_or(true);
    let mut spark_queries = Vec::new();
    for (qp, qn) in cx.opt_list(m, path, "spark_queries") {
        if let Some(q) = read_spark(cx, qn, &qp) {
            spark_queries.push(q);
        }
    }
    Some(ClusterConfig {
        name: name?,
        bootstrap_servers: bootstrap_servers?,
        groups,
        topics,
        client,
        poll_timeout,
        spark_queries,
        batched_offsets,
    })
}

fn read_spark(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<SparkQueryConfig> {
    let m = cx.map(node, path, SPARK_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let group = cx.opt_string(m, path, "group");
    let checkpoint = cx.req_string(m, path, "checkpoint");
    let s3 = match m.get("s3") {
        Some(n) => {
            let sp = join(path, "s3");
            cx.map(n, &sp, S3_KEYS).map(|sm| S3Config {
                endpoint: cx.opt_string(sm, &sp, "endpoint"),
                region: cx.opt_string(sm, &sp, "region"),
                access_key_id: cx.opt_string(sm, &sp, "access_key_id"),
                secret_access_key: cx.opt_string(sm, &sp, "secret_access_key"),
                allow_http: cx.opt_bool(sm, &sp, "allow_http").unwrap_or(false),
            })
        }
        None => None,
    };
    let name = name?;
    Some(SparkQueryConfig {
        group: group.unwrap_or_else(|| format!("spark:{name}")),
        name,
        checkpoint: checkpoint?,
        s3,
    })
}

fn read_thresholds(cx: &mut Cx<'_>, m: MapView<'_>, path: &str, base: &Thresholds) -> Thresholds {
    let mut t = base.clone();
    if let Some(v) = cx.opt_int(m, path, "lag_warning", 1, i64::MAX) {
        t.lag_warning = v;
    }
    if let Some(v) = cx.opt_int(m, path, "lag_critical", 1, i64::MAX) {
        t.lag_critical = v;
    }
    if let Some(v) = cx.opt_float(m, path, "headroom", 0.0, 100.0) {
        if v < 1.0 {
            let pos = m.get("headroom").map(|n| n.pos).unwrap_or(m.pos);
            cx.error(pos, &join(path, "headroom"), format!("headroom {v} is below 1.0: a consumer slower than its producer never catches up"));
        }
        t.headroom = v;
    }
    if let Some(v) = cx.opt_int(m, path, "backlog_min_messages", 0, i64::MAX) {
        t.backlog_min_messages = v;
    }
    if let Some(v) = cx.opt_float(m, path, "backlog_min_seconds", 0.0, 1e9) {
        t.backlog_min_seconds = v;
    }
    if let Some(v) = cx.opt_duration(m, path, "rate_window") {
        t.rate_window = v;
    }
    if let Some(v) = cx.opt_duration(m, path, "stopped_after") {
        t.stopped_after = v;
    }
    if let Some(v) = cx.opt_int(m, path, "for_polls", 1, 1000) {
        t.for_polls = v as u32;
    }
    if let Some(v) = cx.opt_float(m, path, "backlog_replay_fraction", 0.0, 1.0) {
        t.backlog_replay_fraction = v;
    }
    if t.lag_warning > t.lag_critical {
        let pos = m
            .get("lag_warning")
            .or(m.get("lag_critical"))
            .map(|n| n.pos)
            .unwrap_or(m.pos);
        cx.error(
            pos,
            &join(path, "lag_warning"),
            format!(
                "lag_warning {} is above lag_critical {}",
                t.lag_warning, t.lag_critical
            ),
        );
    }
    t
}

fn read_rules(cx: &mut Cx<'_>, node: &Node, path: &str) -> RulesConfig {
    let mut keys = THRESHOLD_KEYS.to_vec();
    keys.push("overrides");
    let Some(m) = cx.map(node, path, &keys) else {
        return RulesConfig::default();
    };
    let defaults = read_thresholds(cx, m, path, &Thresholds::default());
    let mut okeys = THRESHOLD_KEYS.to_vec();
    okeys.extend(["group", "topic"]);
    let mut overrides = Vec::new();
    for (op, on) in cx.opt_list(m, path, "overrides") {
        let Some(om) = cx.map(on, &op, &okeys) else {
            continue;
        };
        let group = one_regex(cx, om, &op, "group");
        let topic = one_regex(cx, om, &op, "topic");
        if om.get("group").is_none() && om.get("topic").is_none() {
            cx.error(
                om.pos,
                &op,
                "an override needs `group` and/or `topic` (a regex)",
            );
        }
        let thresholds = read_thresholds(cx, om, &op, &defaults);
        overrides.push(RuleOverride {
            group,
            topic,
            thresholds,
        });
    }
    RulesConfig {
        defaults,
        overrides,
    }
}

fn one_regex(cx: &mut Cx<'_>, m: MapView<'_>, path: &str, key: &str) -> Option<Regex> {
    let node = m.get(key)?;
    let field = join(path, key);
    let s = cx.string(node, &field)?;
    match Regex::new(&s) {
        Ok(r) => Some(r),
        Err(e) => {
            let last = e.to_string().lines().last().unwrap_or("").trim().to_owned();
            cx.error(node.pos, &field, format!("invalid regex `{s}`: {last}"));
            None
        }
    }
}

fn read_notifier(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<NotifierConfig> {
    let m = cx.map(node, path, NOTIFIER_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let kind = match cx.req_string(m, path, "kind").as_deref() {
        Some("slack") => Some(NotifierKind::Slack),
        Some("discord") => Some(NotifierKind::Discord),
        Some("console") => Some(NotifierKind::Console),
        Some(other) => {
            let pos = m.get("kind").map(|n| n.pos).unwrap_or(m.pos);
            let hint = did_you_mean(other, &["slack", "discord", "console"])
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            cx.error(
                pos,
                &join(path, "kind"),
                format!(
                    "unknown notifier kind `{other}`{hint}; expected slack, discord or console"
                ),
            );
            None
        }
        None => None,
    };
    let mut url = cx.opt_string(m, path, "url");
    if let Some(file) = cx.opt_string(m, path, "url_file") {
        let pos = m.get("url_file").map(|n| n.pos).unwrap_or(m.pos);
        if url.is_some() {
            cx.error(
                pos,
                &join(path, "url_file"),
                "set either `url` or `url_file`, not both",
            );
        }
        match std::fs::read_to_string(&file) {
            Ok(s) => url = Some(s.trim().to_owned()),
            Err(e) => cx.error(
                pos,
                &join(path, "url_file"),
                format!("cannot read `{file}`: {e}"),
            ),
        }
    }
    if matches!(kind, Some(NotifierKind::Slack | NotifierKind::Discord)) {
        match &url {
            None => cx.error(
                m.pos,
                &join(path, "url"),
                "slack and discord notifiers need `url` or `url_file`",
            ),
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                let pos = m
                    .get("url")
                    .or(m.get("url_file"))
                    .map(|n| n.pos)
                    .unwrap_or(m.pos);
                // Never echo the value: it is a secret.
                cx.error(
                    pos,
                    &join(path, "url"),
                    "the webhook URL must start with https:// or http://",
                );
            }
            Some(_) => {}
        }
    }
    let filter = |cx: &mut Cx<'_>, key: &str| match m.get(key) {
        Some(n) => {
            let fp = join(path, key);
            cx.map(n, &fp, &["include", "exclude"])
                .map(|fm| read_filter(cx, fm, &fp))
                .unwrap_or_default()
        }
        None => Filter::default(),
    };
    let groups = filter(cx, "groups");
    let topics = filter(cx, "topics");
    let min_severity = match cx.opt_string(m, path, "min_severity").as_deref() {
        None | Some("warning") => Severity::Warning,
        Some("critical") => Severity::Critical,
        Some(other) => {
            let pos = m.get("min_severity").map(|n| n.pos).unwrap_or(m.pos);
            cx.error(
                pos,
                &join(path, "min_severity"),
                format!("unknown severity `{other}`; expected warning or critical"),
            );
            Severity::Warning
        }
    };
    Some(NotifierConfig {
        name: name?,
        kind: kind?,
        url,
        groups,
        topics,
        min_severity,
        dashboard_url: cx.opt_string(m, path, "dashboard_url"),
        repeat_interval: cx
            .opt_duration(m, path, "repeat_interval")
            .unwrap_or(Duration::from_secs(3600)),
        queue_size: cx
            .opt_int(m, path, "queue_size", 1, 100_000)
            .unwrap_or(1000) as usize,
        timeout: cx
            .opt_duration(m, path, "timeout")
            .unwrap_or(Duration::from_secs(10)),
    })
}
