//! `Accept` content negotiation for /metrics (RFC 9110 §12.5.1): each media range may carry
//! a weight `q`; the most specific range that matches a type gives its weight, `q=0` means
//! "not acceptable", and the highest weight wins. A scraper that prefers the classic text
//! format gets it even when it also lists OpenMetrics.

/// The two formats /metrics can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain`).
    Text,
    /// OpenMetrics 1.0 (`application/openmetrics-text`).
    OpenMetrics,
}

/// The format to send for an `Accept` header (absent or empty: text).
pub fn choose(accept: &str) -> Format {
    let ranges: Vec<(&str, &str, f32)> = accept.split(',').filter_map(range).collect();
    // (weight, specificity) of the best-matching range; specificity 3 = type/subtype.
    let score = |ty: &str, sub: &str| {
        ranges
            .iter()
            .filter_map(|&(t, s, q)| {
                let spec = match (t, s) {
                    _ if t.eq_ignore_ascii_case(ty) && s.eq_ignore_ascii_case(sub) => 3,
                    (_, "*") if t.eq_ignore_ascii_case(ty) => 2,
                    ("*", "*") => 1,
                    _ => return None,
                };
                Some((spec, q))
            })
            .max_by_key(|&(spec, _)| spec)
            .map(|(spec, q)| (q, spec))
    };
    let om = score("application", "openmetrics-text");
    let text = score("text", "plain");
    match (om, text) {
        // OpenMetrics only when asked for by name and weighted at least as high as text.
        (Some((oq, 3)), Some((tq, _))) if oq > 0.0 && oq >= tq => Format::OpenMetrics,
        (Some((oq, 3)), None) if oq > 0.0 => Format::OpenMetrics,
        _ => Format::Text,
    }
}

/// Whether to gzip the body for an `Accept-Encoding` header (RFC 9110 §12.5.3): yes when
/// `gzip` (or its alias `x-gzip`, or `*` without a gzip entry) has a weight above 0 that is
/// at least identity's. Prometheus sends `gzip`; curl without `--compressed` sends nothing.
pub fn gzip(accept_encoding: &str) -> bool {
    let codings: Vec<(&str, f32)> = accept_encoding
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let name = parts.next()?.trim();
            (!name.is_empty()).then(|| (name, weight(parts)))
        })
        .collect();
    let find = |names: &[&str]| {
        codings
            .iter()
            .find(|(c, _)| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
            .map(|&(_, q)| q)
    };
    let star = find(&["*"]);
    let Some(gz) = find(&["gzip", "x-gzip"]).or(star) else {
        return false;
    };
    // Identity is acceptable unless excluded by name or by `*;q=0` (§12.5.3).
    let identity = find(&["identity"]).or(star).unwrap_or(1.0);
    gz > 0.0 && gz >= identity
}

/// The `q` parameter among `params` (1 when absent or unreadable).
fn weight<'a>(params: impl Iterator<Item = &'a str>) -> f32 {
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
        .and_then(|(_, v)| v.trim().parse::<f32>().ok())
        .map_or(1.0, |q| q.clamp(0.0, 1.0))
}

/// One media range: type, subtype and weight (1 when absent or unreadable: RFC 9110 says
/// a malformed weight makes the range invalid, but ignoring a client's whole header over
/// it would be worse than reading it as the default).
fn range(item: &str) -> Option<(&str, &str, f32)> {
    let mut parts = item.split(';');
    let (t, s) = parts.next()?.trim().split_once('/')?;
    Some((t.trim(), s.trim(), weight(parts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_weight_wins() {
        use Format::*;
        // Rows: Accept header, format, why.
        let rows = [
            ("", Text, "no header: the classic format"),
            ("*/*", Text, "anything: the classic format"),
            (
                "application/openmetrics-text",
                OpenMetrics,
                "asked for by name",
            ),
            (
                "text/plain;q=1, application/openmetrics-text;q=0.5",
                Text,
                "the issue's client: prefers text",
            ),
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                OpenMetrics,
                "Prometheus' own header",
            ),
            (
                "application/openmetrics-text;q=0, text/plain",
                Text,
                "q=0: not acceptable",
            ),
            (
                "text/*;q=0.2, application/openmetrics-text;q=0.3",
                OpenMetrics,
                "a wildcard for text weighs less",
            ),
            (
                "text/plain;q=0.2, */*;q=0.9",
                Text,
                "OpenMetrics only when named, even if */* weighs more",
            ),
            (
                "APPLICATION/OpenMetrics-Text; Q=0.9, text/plain; q=0.8",
                OpenMetrics,
                "names and parameters are case-insensitive",
            ),
        ];
        for (accept, want, why) in rows {
            assert_eq!(choose(accept), want, "{why}: {accept}");
        }
    }

    #[test]
    fn gzip_when_the_scraper_accepts_it() {
        // Rows: Accept-Encoding header, gzip?, why.
        let rows = [
            ("", false, "no header (curl without --compressed): plain"),
            ("gzip", true, "Prometheus' header"),
            ("gzip, deflate, br", true, "a browser's header"),
            ("deflate, br", false, "gzip not offered"),
            ("x-gzip", true, "the legacy alias"),
            ("GZip", true, "coding names are case-insensitive"),
            ("gzip;q=0", false, "q=0: not acceptable"),
            ("gzip;q=0.5, identity;q=0.8", false, "identity preferred"),
            (
                "gzip;q=0.8, identity;q=0.8",
                true,
                "a tie goes to the smaller body",
            ),
            ("*", true, "anything goes"),
            (
                "*;q=0.5, gzip;q=0",
                false,
                "named gzip overrides the wildcard",
            ),
            ("identity", false, "identity only"),
            ("gzip;q=abc", true, "an unreadable weight reads as 1"),
        ];
        for (header, want, why) in rows {
            assert_eq!(gzip(header), want, "{why}: {header:?}");
        }
    }
}
