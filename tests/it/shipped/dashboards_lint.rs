//! Static checks of the shipped Grafana dashboards and Prometheus rules against the code:
//! valid JSON, unique panel ids, the `${datasource}` variable everywhere, the template
//! variables the docs promise, only metric names lagwatch really exports, and alert
//! thresholds equal to lagwatch's own defaults.

use lagwatch::config::Thresholds;
use lagwatch::metrics::METRIC_NAMES;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const RULES: &str = "alerts/lagwatch-rules.yaml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dashboard_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("dashboards"))
        .expect("dashboards/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards/*.json");
    files
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every panel, rows' nested panels included, in document order.
fn panels(dash: &Value) -> Vec<&Value> {
    fn walk<'a>(ps: &'a Value, out: &mut Vec<&'a Value>) {
        for p in ps.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    out
}

fn uses_datasource_var(ds: &Value) -> bool {
    ds["uid"].as_str() == Some("${datasource}")
}

/// `lagwatch_*` metric names mentioned in `text`, with histogram suffixes stripped.
/// Recording rules (`lagwatch:...`) never match: the prefix is followed by `:`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\blagwatch_[A-Za-z0-9_]+").expect("regex");
    re.find_iter(text)
        .map(|m| {
            let n = m.as_str();
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
                .to_owned()
        })
        .collect()
}

#[test]
fn dashboards_are_valid_and_use_the_datasource_variable() {
    for f in dashboard_files() {
        let name = f.display().to_string();
        let dash: Value =
            serde_json::from_str(&read(&f)).unwrap_or_else(|e| panic!("{name}: invalid JSON: {e}"));
        let all = panels(&dash);
        assert!(!all.is_empty(), "{name}: no panels");

        let mut ids = BTreeSet::new();
        let mut targets = 0;
        for p in &all {
            let title = p["title"].as_str().unwrap_or("?");
            let id = p["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{name}: panel `{title}` has no numeric id"));
            assert!(
                ids.insert(id),
                "{name}: panel id {id} (`{title}`) is used twice"
            );
            assert!(
                uses_datasource_var(&p["datasource"]),
                "{name}: panel `{title}` does not use ${{datasource}}: {}",
                p["datasource"]
            );
            for t in p["targets"].as_array().into_iter().flatten() {
                targets += 1;
                assert!(
                    uses_datasource_var(&t["datasource"]),
                    "{name}: a target of `{title}` does not use ${{datasource}}: {}",
                    t["datasource"]
                );
                assert!(
                    t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                    "{name}: a target of `{title}` has no expr"
                );
            }
        }
        assert!(targets > 0, "{name}: no query targets");

        let vars: BTreeSet<&str> = dash["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .collect();
        for v in ["datasource", "cluster", "group", "topic"] {
            assert!(vars.contains(v), "{name}: template variable `{v}` missing");
        }
        for v in dash["templating"]["list"].as_array().into_iter().flatten() {
            if v["type"] == "query" {
                assert!(
                    uses_datasource_var(&v["datasource"]),
                    "{name}: variable {} does not use ${{datasource}}",
                    v["name"]
                );
            }
        }
    }
}

#[test]
fn every_metric_used_in_dashboards_and_rules_is_exported() {
    let known: BTreeSet<&str> = METRIC_NAMES.iter().copied().collect();
    let mut files = dashboard_files();
    files.push(root().join(RULES));
    for f in files {
        let used = metric_names(&read(&f));
        assert!(!used.is_empty(), "{}: no lagwatch_ metrics", f.display());
        let unknown: Vec<_> = used
            .iter()
            .filter(|n| !known.contains(n.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "{}: metrics not in lagwatch::metrics::METRIC_NAMES: {unknown:?}",
            f.display()
        );
    }
}

/// The expression of alert `name` in the shipped rules file, whitespace collapsed.
fn alert_expr(rules: &Value, name: &str) -> String {
    let expr = rules["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .find(|r| r["alert"].as_str() == Some(name))
        .and_then(|r| r["expr"].as_str())
        .unwrap_or_else(|| panic!("{RULES}: no alert {name}"));
    expr.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn alert_thresholds_match_lagwatch_defaults() {
    let rules: Value = serde_saphyr::from_str(&read(&root().join(RULES)))
        .unwrap_or_else(|e| panic!("{RULES}: {e}"));
    let th = Thresholds::default();
    let warn = format!(">= {}", th.lag_warning);
    let crit = format!(">= {}", th.lag_critical);
    let headroom = format!("< {}", th.headroom);
    let backlog_msgs = format!(">= {})", th.backlog_min_messages);
    let backlog_secs = format!("({} * lagwatch_topic_produce_rate)", th.backlog_min_seconds);
    // (alert, text its expr must contain, why)
    let cases: &[(&str, &str, &str)] = &[
        ("LagwatchLagWarning", &warn, "lag_warning default"),
        ("LagwatchLagCritical", &crit, "lag_critical default"),
        (
            "LagwatchLowHeadroom",
            &headroom,
            "headroom: backlogged consumers need >= 1.2x",
        ),
        (
            "LagwatchLowHeadroom",
            &backlog_msgs,
            "backlogged = lag >= backlog_min_messages",
        ),
        (
            "LagwatchLowHeadroom",
            &backlog_secs,
            "backlogged = lag >= backlog_min_seconds of production",
        ),
        (
            "LagwatchFallingBehind",
            "< 1.0",
            "falling behind = consuming slower than producing",
        ),
        (
            "LagwatchFallingBehind",
            &backlog_msgs,
            "same backlog floor as low headroom",
        ),
        (
            "LagwatchFallingBehind",
            &backlog_secs,
            "same backlog floor as low headroom",
        ),
    ];
    for (alert, needle, why) in cases {
        let expr = alert_expr(&rules, alert);
        assert!(
            expr.contains(needle),
            "{alert} should contain `{needle}` ({why}); expr: {expr}"
        );
    }
}

/// The granularity a family or recording rule needs, from its name: lagwatch names every
/// per-partition family `*_partition_*` and every per-topic one `*_topic_*`
/// (`http::metrics_granularity` checks that against the labels they are rendered with).
/// 0 = group, 1 = topic, 2 = partition.
pub(crate) fn needs(name: &str) -> u8 {
    if name.contains("_partition_") || name.ends_with(":skew") {
        2
    } else if name.contains("_topic_") {
        1
    } else {
        0
    }
}

/// What a query needs: nothing finer than group when it has a per-group fallback
/// (`... or sum(lagwatch_group_lag{...})`), else the finest family it reads.
fn query_needs(expr: &str) -> u8 {
    let re = regex::Regex::new(r"\blagwatch[_:][A-Za-z0-9_:]+").expect("regex");
    let levels: Vec<u8> = re.find_iter(expr).map(|m| needs(m.as_str())).collect();
    if levels.contains(&0) {
        0
    } else {
        levels.into_iter().max().unwrap_or(0)
    }
}

/// Issue 20: at `metrics.granularity: topic` or `group` some panels cannot have data; each
/// says so in its description, and the variables read families present at every granularity.
#[test]
fn panels_that_need_finer_series_say_so() {
    for f in dashboard_files() {
        let name = f.display().to_string();
        let dash: Value = serde_json::from_str(&read(&f)).expect("JSON");
        for p in panels(&dash) {
            let targets: Vec<&str> = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["expr"].as_str())
                .collect();
            let Some(level) = targets.iter().map(|e| query_needs(e)).max() else {
                continue;
            };
            let title = p["title"].as_str().unwrap_or("?");
            let text = format!("{} {}", title, p["description"].as_str().unwrap_or(""));
            let topic = text.contains("Needs topic granularity");
            let partition = text.contains("Needs partition granularity");
            // (level, says topic, says partition): exactly the one it needs.
            let ok = match level {
                2 => partition && !topic,
                1 => topic && !partition,
                _ => !topic && !partition,
            };
            assert!(
                ok,
                "{name}: panel `{title}` needs level {level} (0 group, 1 topic, 2 partition); \
                 its description must say exactly that: {text}"
            );
        }
        for v in dash["templating"]["list"].as_array().into_iter().flatten() {
            if v["name"] == "group" {
                let q = v["query"]["query"].as_str().unwrap_or("");
                assert_eq!(
                    query_needs(q),
                    0,
                    "{name}: the group variable `{q}` must exist at group granularity"
                );
            }
        }
    }
}
