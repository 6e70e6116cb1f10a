//! The fields of a notifier that hold secrets or only suit some kinds: URLs, keys from
//! `${ENV}` or files, and keys a kind would silently ignore. Values are never echoed.

use super::notifiers::{NotifierKind, PAGERDUTY_EVENTS_URL};
use super::reader::{join, Cx, MapView};

/// `url` or `url_file`, checked for the kinds that need one. Neither value is ever echoed
/// (both are secrets); a problem is blamed on the field that holds it.
pub(super) fn read_url(
    cx: &mut Cx<'_>,
    m: MapView<'_>,
    path: &str,
    kind: Option<NotifierKind>,
) -> Option<String> {
    let mut url = cx.opt_string(m, path, "url");
    let mut from = ("url", m.get("url").map_or(m.pos, |n| n.pos), "`url`");
    let mut reported = false;
    if let Some(file) = super::env::opt_text(cx, m, path, "url_file") {
        let pos = m.get("url_file").map_or(m.pos, |n| n.pos);
        let field = join(path, "url_file");
        if url.is_some() {
            cx.error(pos, &field, "set either `url` or `url_file`, not both");
            reported = true;
        } else {
            match std::fs::read_to_string(&file.value) {
                Ok(s) => {
                    url = Some(s.trim().to_owned());
                    from = ("url_file", pos, "the file named by `url_file`");
                }
                Err(e) => {
                    cx.error(pos, &field, format!("cannot read {}: {e}", file.shown));
                    reported = true;
                }
            }
        }
    }
    let needs_url = !matches!(
        kind,
        None | Some(NotifierKind::Console | NotifierKind::PagerDuty)
    );
    if kind == Some(NotifierKind::PagerDuty) && url.is_none() {
        url = Some(PAGERDUTY_EVENTS_URL.to_owned());
    }
    let more = kind == Some(NotifierKind::Alertmanager) && m.get("urls").is_some();
    if reported {
        return url;
    }
    match &url {
        None if needs_url && !more => cx.error(
            m.pos,
            &join(path, "url"),
            format!(
                "{} notifiers need `url` or `url_file`",
                kind.map_or("these", NotifierKind::as_str)
            ),
        ),
        Some(u) if !is_http(u) => {
            let (key, pos, what) = from;
            cx.error(
                pos,
                &join(path, key),
                format!("{what} must hold a webhook URL starting with https:// or http://"),
            );
        }
        _ => {}
    }
    url
}

/// Alertmanager's further URLs.
pub(super) fn read_urls(
    cx: &mut Cx<'_>,
    m: MapView<'_>,
    path: &str,
    kind: Option<NotifierKind>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (u, pos)) in cx.opt_string_list(m, path, "urls").into_iter().enumerate() {
        if is_http(&u) {
            out.push(u);
        } else {
            cx.error(
                pos,
                &format!("{}[{i}]", join(path, "urls")),
                "must hold a webhook URL starting with https:// or http://",
            );
        }
    }
    if kind == Some(NotifierKind::Alertmanager) && m.get("urls").is_some() && out.is_empty() {
        cx.error(
            m.pos,
            &join(path, "urls"),
            "alertmanager notifiers need at least one URL",
        );
    }
    out
}

fn is_http(u: &str) -> bool {
    u.starts_with("https://") || u.starts_with("http://")
}

/// A secret given inline (`${ENV}`) or in a file (`*_file`), never both; never echoed.
pub(super) fn secret_pair(
    cx: &mut Cx<'_>,
    m: MapView<'_>,
    path: &str,
    key: &str,
    file_key: &str,
) -> Option<String> {
    let inline = cx.opt_string(m, path, key);
    let Some(file) = super::env::opt_text(cx, m, path, file_key) else {
        return inline;
    };
    let pos = m.get(file_key).map_or(m.pos, |n| n.pos);
    let field = join(path, file_key);
    if inline.is_some() {
        cx.error(
            pos,
            &field,
            format!("set either `{key}` or `{file_key}`, not both"),
        );
        return inline;
    }
    match std::fs::read_to_string(&file.value) {
        Ok(s) => Some(s.trim().to_owned()),
        Err(e) => {
            cx.error(pos, &field, format!("cannot read {}: {e}", file.shown));
            None
        }
    }
    .or(inline)
}

/// Keys that only some kinds understand are errors elsewhere, not silently ignored.
pub(super) fn only_for(
    cx: &mut Cx<'_>,
    m: MapView<'_>,
    path: &str,
    kind: Option<NotifierKind>,
    kinds: &[NotifierKind],
    keys: &[&str],
) {
    let Some(kind) = kind else { return };
    if kinds.contains(&kind) {
        return;
    }
    for key in keys {
        if let Some(n) = m.get(key) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            cx.error(
                n.pos,
                &join(path, key),
                format!("`{key}` is only for {} notifiers", names.join(", ")),
            );
        }
    }
}
