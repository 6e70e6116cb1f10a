//! Typed reading of a positioned YAML tree that collects every problem instead of stopping
//! at the first, so `lagwatch validate` can report them all at once.

use super::env::did_you_mean;
use super::env::{expand_env, EnvLookup};
use super::error::{ConfigError, ConfigErrors};
use super::yaml::{Kind, Node, Pos};
use std::fmt;
use std::time::Duration;

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

    /// How `${VAR}` is resolved (for checks that build what `run` builds, e.g. S3 settings).
    pub fn env(&self) -> EnvLookup<'a> {
        self.env
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

    /// An optional scalar field of a mapping, read as `T`. A string value is `${VAR}`-
    /// expanded first and then parsed, so every scalar (durations, numbers, booleans) can
    /// come from the environment.
    pub fn scalar<T: Scalar>(&mut self, m: MapView<'_>, path: &str, key: &str) -> Option<T> {
        let node = m.get(key)?;
        let read = match &node.kind {
            Kind::Str(s) => expand_env(s, self.env).and_then(|t| T::parse(t.trim())),
            other => T::from_yaml(other).unwrap_or_else(|| {
                Err(format!(
                    "expected {}, found {}",
                    T::EXPECTED,
                    other.type_name()
                ))
            }),
        };
        match read {
            Ok(v) => Some(v),
            Err(msg) => {
                self.error(node.pos, &join(path, key), msg);
                None
            }
        }
    }

    /// An optional duration such as `15s`, `5m`, `1h30m`, within `bounds` (see
    /// [`super::bounds`]: a `1ms` poll or a `9999999999999h` timeout is refused here, not
    /// met at run time).
    pub fn opt_duration(
        &mut self,
        m: MapView<'_>,
        path: &str,
        key: &str,
        bounds: super::bounds::Bounds,
    ) -> Option<Duration> {
        let v = self.scalar::<Positive>(m, path, key)?.0;
        match bounds.check(v) {
            Ok(()) => Some(v),
            Err(msg) => {
                let pos = m.get(key).map_or(m.pos, |n| n.pos);
                self.error(pos, &join(path, key), msg);
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
        let v = self.scalar::<i64>(m, path, key)?;
        self.in_range(m, path, key, v, min, max)
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
        let v = self.scalar::<f64>(m, path, key)?;
        self.in_range(m, path, key, v, min, max)
    }

    fn in_range<T: PartialOrd + fmt::Display>(
        &mut self,
        m: MapView<'_>,
        path: &str,
        key: &str,
        v: T,
        min: T,
        max: T,
    ) -> Option<T> {
        // NaN compares false both ways, so it is out of every range.
        if v >= min && v <= max {
            return Some(v);
        }
        let pos = m.get(key).map_or(m.pos, |n| n.pos);
        self.error(
            pos,
            &join(path, key),
            format!("{v} is out of range {min}..={max}"),
        );
        None
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, m: MapView<'_>, path: &str, key: &str) -> Option<bool> {
        self.scalar::<bool>(m, path, key)
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

/// A value one YAML scalar can hold: either as the scalar's own type, or as text (what a
/// quoted value and an expanded `${VAR}` give).
pub trait Scalar: Sized {
    /// What the value should have been, for errors ("an integer").
    const EXPECTED: &'static str;
    /// The value of a non-string node; `None` when that node type never fits.
    fn from_yaml(kind: &Kind) -> Option<Result<Self, String>>;
    /// The value of a text.
    fn parse(text: &str) -> Result<Self, String>;
}

impl Scalar for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_yaml(kind: &Kind) -> Option<Result<Self, String>> {
        match kind {
            Kind::Int(i) => Some(Ok(*i)),
            _ => None,
        }
    }
    fn parse(text: &str) -> Result<Self, String> {
        text.replace('_', "")
            .parse()
            .map_err(|_| format!("expected an integer, found the string `{text}`"))
    }
}

impl Scalar for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_yaml(kind: &Kind) -> Option<Result<Self, String>> {
        match kind {
            Kind::Int(i) => Some(Ok(*i as f64)),
            Kind::Float(f) => Some(Ok(*f)),
            _ => None,
        }
    }
    fn parse(text: &str) -> Result<Self, String> {
        text.replace('_', "")
            .parse()
            .map_err(|_| format!("expected a number, found the string `{text}`"))
    }
}

impl Scalar for bool {
    const EXPECTED: &'static str = "true or false";
    fn from_yaml(kind: &Kind) -> Option<Result<Self, String>> {
        match kind {
            Kind::Bool(b) => Some(Ok(*b)),
            _ => None,
        }
    }
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("expected true or false, found the string `{text}`")),
        }
    }
}

/// A duration greater than zero, written with a unit (`15s`, `5m`, `1h30m`); a bare
/// positive integer is seconds.
pub struct Positive(pub Duration);

impl Scalar for Positive {
    const EXPECTED: &'static str = "a duration like `15s`";
    fn from_yaml(kind: &Kind) -> Option<Result<Self, String>> {
        match kind {
            Kind::Int(i) if *i > 0 => Some(Ok(Positive(Duration::from_secs(*i as u64)))),
            Kind::Int(_) | Kind::Float(_) => Some(Err(
                "durations must be positive, with a unit, e.g. `15s`, `5m`, `1h`".to_owned(),
            )),
            _ => None,
        }
    }
    fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with('-') {
            return Err(format!(
                "negative duration `{text}`: durations must be positive"
            ));
        }
        match humantime::parse_duration(text) {
            Ok(d) if d.is_zero() => Err("duration must be greater than zero".to_owned()),
            Ok(d) => Ok(Positive(d)),
            Err(e) => Err(format!(
                "invalid duration `{text}` ({e}); use e.g. `15s`, `5m`, `1h`"
            )),
        }
    }
}
