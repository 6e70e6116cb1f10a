//! `${VAR}` and `${VAR:-default}` in config values, and "did you mean" for unknown keys.

use super::reader::{join, Cx, MapView};
use super::yaml::Kind;

/// Looks up environment variables; a trait object so tests inject their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`. Errors name the variable only.
pub fn expand_env(raw: &str, env: EnvLookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err("unterminated `${` in value".to_owned());
            };
            let spec = &body[..end];
            let (name, default) = match spec.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (spec, None),
            };
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!(
                    "invalid environment variable name `{name}` in `${{...}}`"
                ));
            }
            match (env)(name) {
                Some(v) => out.push_str(&v),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => return Err(format!("environment variable `{name}` is not set")),
                },
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A string value and how a message may name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// The value, `${VAR}` expanded.
    pub value: String,
    /// What messages print: the value when it is written in the file, else the text as
    /// written (`${VAR}` unexpanded), since a value from the environment may be a secret.
    pub shown: String,
    /// Whether `${VAR}` took part: then no part of the value may be printed.
    pub from_env: bool,
}

impl Text {
    /// Names `value`, read from `raw` as written in the file.
    pub fn new(raw: &str, value: String) -> Self {
        let from_env = raw.contains("${");
        let shown = if from_env {
            format!("`{raw}` (value from the environment not shown)")
        } else {
            format!("`{value}`")
        };
        Text {
            value,
            shown,
            from_env,
        }
    }
}

/// An optional string field that messages may need to name (a path, a URL).
pub fn opt_text(cx: &mut Cx<'_>, m: MapView<'_>, path: &str, key: &str) -> Option<Text> {
    let node = m.get(key)?;
    let value = cx.string(node, &join(path, key))?;
    Some(match &node.kind {
        Kind::Str(raw) => Text::new(raw, value),
        _ => Text::new(&value.clone(), value),
    })
}

/// The closest known name within a small edit distance, for "did you mean".
pub fn did_you_mean<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(&word.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cr3t".to_owned())
    }

    #[test]
    fn env_expansion() {
        assert_eq!(expand_env("a${TOKEN}b", &env).unwrap(), "as3cr3tb");
        assert_eq!(expand_env("${NOPE:-x}", &env).unwrap(), "x");
        assert_eq!(expand_env("$$5 and $x", &env).unwrap(), "$5 and $x");
        let e = expand_env("${NOPE}", &env).unwrap_err();
        assert!(e.contains("`NOPE` is not set"), "{e}");
        assert!(expand_env("${A", &env).is_err());
        assert!(expand_env("${1A}", &env).is_err());
    }

    #[test]
    fn a_value_from_the_environment_is_named_by_its_variable() {
        // Rows: raw text, expanded value, what messages show, why.
        let rows = [
            (
                "/var/lib/lw",
                "/var/lib/lw",
                "`/var/lib/lw`",
                "written in the file: shown",
            ),
            (
                "/tmp/${TOKEN}",
                "/tmp/s3cr3t",
                "`/tmp/${TOKEN}` (value from the environment not shown)",
                "from the environment: only the variable",
            ),
        ];
        for (raw, value, shown, why) in rows {
            assert_eq!(Text::new(raw, value.to_owned()).shown, shown, "{why}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("poll_intervl", &["poll_interval", "listen"]),
            Some("poll_interval")
        );
        assert_eq!(did_you_mean("zzz", &["poll_interval", "listen"]), None);
    }
}
