//! Typed reading of a positioned YAML tree that collects every problem instead of stopping
//! at the first, so `lagwatch validate` can report them all at once.

use super::yaml::{Kind, Node, Pos};
use std::fmt;
use std::time::Duration;

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file the problem is in.
    pub file: String,
    /// 1-based line (0 when the file could not be read at all).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Dotted path of the field, e.g. `clusters[0].groups.include[1]`.
    pub field: String,
    /// What is wrong, never containing a secret value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.field.is_empty() {
            String::new()
        } else {
            format!(" {}:", self.field)
        };
        write!(
            f,
            "{}:{}:{}:{} {}",
            self.file, self.line, self.column, field, self.message
        )
    }
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Looks up environment variables; a trait object so tests inject their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The reading context: file name, env lookup and the problems found so far.
pub struct Cx<'a> {
    file: String,
    env: EnvLookup<'a>,
    errors: Vec<ConfigError>,
}

/// A mapping being read, with its path for error messages.
#[derive(Clone, Copy)]
pub struct MapView<'n> {
    /// Entries in file order.
    pub entries: &'n [(String, Pos, Node)],
    /// Where the mapping starts.
    pub pos: Pos,
}

impl<'n> MapView<'n> {
    /// The node under `key`, if present and not null.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, v)| k == key && v.kind != Kind::Null)
            .map(|(_, _, v)| v)
    }
}

/// Joins a path and a key: `a.b` or `b` at the top.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Cx<'a> {
    /// A context for one file.
    pub fn new(file: impl Into<String>, env: EnvLookup<'a>) -> Self {
        Cx {
            file: file.into(),
            env,
            errors: Vec::new(),
        }
    }

    /// Records a problem at `pos` for `field`.
    pub fn error(&mut self, pos: Pos, field: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// The problems found, in file order.
    pub fn finish(mut self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            self.errors.sort_by_key(|e| (e.line, e.column));
            Err(ConfigErrors(self.errors))
        }
    }

    /// Whether any problem has been recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Reads `node` as a mapping whose keys must all be in `allowed`.
    pub fn map<'n>(&mut self, node: &'n Node, path: &str, allowed: &[&str]) -> Option<MapView<'n>> {
        match &node.kind {
            Kind::Map(entries) => {
                for (k, kpos, _) in entries {
                    if !allowed.contains(&k.as_str()) {
                        let hint = did_you_mean(k, allowed)
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        let known = allowed.join(", ");
                        self.error(
                            *kpos,
                            &join(path, k),
                            format!("unknown key `{k}`{hint}; known keys: {known}"),
                        );
                    }
                }
                Some(MapView {
                    entries,
                    pos: node.pos,
                })
            }
            Kind::Null => Some(MapView {
                entries: &[],
                pos: node.pos,
            }),
            other => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a mapping, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A string with `${VAR}` expanded; numbers and booleans are accepted as their text.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        let raw = match &node.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Bool(b) => b.to_string(),
            other => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a string, found {}", other.type_name()),
                );
                return None;
            }
        };
        match expand_env(&raw, self.env) {
            Ok(s) => Some(s),
            Err(msg) => {
                self.error(node.pos, path, msg);
                None
            }
        }
    }

    /// An optional string field of a mapping.
    pub fn opt_string(&mut self, m: MapView<'_>, path: &str, key: &str) -> Option<String> {
        let node = m.get(key)?;
        self.string(node, &join(path, key))
    }

    /// A required string field of a mapping.
    pub fn req_string(&mut self, m: MapView<'_>, path: &str, key: &str) -> Option<String> {
        match m.get(key) {
            Some(node) => self.string(node, &join(path, key)),
            None => {
                self.error(
                    m.pos,
                    &join(path, key),
                    format!("missing required key `{key}`"),
                );
                None
            }
        }
    }

    /// An optional duration such as `15s`, `5m`, `1h30m`; must be positive.
    pub fn opt_duration(&mut self, m: MapView<'_>, path: &str, key: &str) -> Option<Duration> {
        let node = m.get(key)?;
        let field = join(path, key);
        let text = match &node.kind {
            Kind::Str(s) => s.trim().to_owned(),
            Kind::Int(i) if *i > 0 => return Some(Duration::from_secs(*i as u64)),
            Kind::Int(_) | Kind::Float(_) => {
                self.error(
                    node.pos,
                    &field,
                    "durations must be positive, with a unit, e.g. `15s`, `5m`, `1h`",
                );
                return None;
            }
            other => {
                self.error(
                    node.pos,
                    &field,
                    format!(
                        "expected a duration like `15s`, found {}",
                        other.type_name()
                    ),
                );
                return None;
            }
        };
        if text.starts_with('-') {
            self.error(
                node.pos,
                &field,
                format!("negative duration `{text}`: durations must be positive"),
            );
            return None;
        }
        match humantime::parse_duration(&text) {
            Ok(d) if d.is_zero() => {
                self.error(node.pos, &field, "duration must be greater than zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    node.pos,
                    &field,
                    format!("invalid duration `{text}` ({e}); use e.g. `15s`, `5m`, `1h`"),
                );
                None
            }
        }
    }

    /// An optional integer within `[min, max]`.
    pub fn opt_int(
        &mut self,
        m: MapView<'_>,
        path: &str,
        key: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let node = m.get(key)?;
        let field = join(path, key);
        let v = match &node.kind {
            Kind::Int(i) => *i,
            Kind::Str(s) => match s.replace('_', "").parse::<i64>() {
                Ok(i) => i,
                Err(_) => {
                    self.error(
                        node.pos,
                        &field,
                        format!("expected an integer, found the string `{s}`"),
                    );
                    return None;
                }
            },
            other => {
                self.error(
                    node.pos,
                    &field,
                    format!("expected an integer, found {}", other.type_name()),
                );
                return None;
            }
        };
        if v < min || v > max {
            self.error(
                node.pos,
                &field,
                format!("{v} is out of range {min}..={max}"),
            );
            return None;
        }
        Some(v)
    }

    /// An optional number within `[min, max]`.
    pub fn opt_float(
        &mut self,
        m: MapView<'_>,
        path: &str,
        key: &str,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let node = m.get(key)?;
        let field = join(path, key);
        let v = match &node.kind {
            Kind::Int(i) => *i as f64,
            Kind::Float(f) => *f,
            other => {
                self.error(
                    node.pos,
                    &field,
                    format!("expected a number, found {}", other.type_name()),
                );
                return None;
            }
        };
        if !v.is_finite() || v < min || v > max {
            self.error(
                node.pos,
                &field,
                format!("{v} is out of range {min}..={max}"),
            );
            return None;
        }
        Some(v)
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, m: MapView<'_>, path: &str, key: &str) -> Option<bool> {
        let node = m.get(key)?;
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            other => {
                let msg = format!("expected true or false, found {}", other.type_name());
                self.error(node.pos, &join(path, key), msg);
                None
            }
        }
    }

    /// The items of an optional list, each with its path.
    pub fn opt_list<'n>(
        &mut self,
        m: MapView<'n>,
        path: &str,
        key: &str,
    ) -> Vec<(String, &'n Node)> {
        let Some(node) = m.get(key) else {
            return Vec::new();
        };
        let field = join(path, key);
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("{field}[{i}]"), n))
                .collect(),
            other => {
                self.error(
                    node.pos,
                    &field,
                    format!("expected a list, found {}", other.type_name()),
                );
                Vec::new()
            }
        }
    }

    /// An optional list of strings.
    pub fn opt_string_list(&mut self, m: MapView<'_>, path: &str, key: &str) -> Vec<(String, Pos)> {
        let items = self.opt_list(m, path, key);
        let mut out = Vec::new();
        for (p, n) in items {
            if let Some(s) = self.string(n, &p) {
                out.push((s, n.pos));
            }
        }
        out
    }

    /// An optional list of regular expressions, anchored as written.
    pub fn opt_regex_list(&mut self, m: MapView<'_>, path: &str, key: &str) -> Vec<regex::Regex> {
        let items = self.opt_list(m, path, key);
        let mut out = Vec::new();
        for (p, n) in items {
            let Some(s) = self.string(n, &p) else {
                continue;
            };
            match regex::Regex::new(&s) {
                Ok(r) => out.push(r),
                Err(e) => {
                    let first = e.to_string().lines().last().unwrap_or("").trim().to_owned();
                    self.error(n.pos, &p, format!("invalid regex `{s}`: {first}"));
                }
            }
        }
        out
    }

    /// An optional mapping of string keys to string values (values may be secrets: never echoed).
    pub fn opt_string_map(
        &mut self,
        m: MapView<'_>,
        path: &str,
        key: &str,
    ) -> Vec<(String, String)> {
        let Some(node) = m.get(key) else {
            return Vec::new();
        };
        let field = join(path, key);
        let Kind::Map(entries) = &node.kind else {
            self.error(
                node.pos,
                &field,
                format!("expected a mapping, found {}", node.kind.type_name()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, _, v) in entries {
            if let Some(s) = self.string(v, &join(&field, k)) {
                out.push((k.clone(), s));
            }
        }
        out
    }
}

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
    fn suggestions() {
        assert_eq!(
            did_you_mean("poll_intervl", &["poll_interval", "listen"]),
            Some("poll_interval")
        );
        assert_eq!(did_you_mean("zzz", &["poll_interval", "listen"]), None);
    }
}
