//! A YAML tree that remembers where every node came from, so config errors can name a line.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// Where a node starts in the file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, 1-based.
    pub line: u32,
    /// Column, 1-based.
    pub column: u32,
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What the node holds.
    pub kind: Kind,
}

/// The shapes a YAML node can take after scalar resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits i64.
    Int(i64),
    /// A float.
    Float(f64),
    /// Any string (quoted or plain).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in file order with their positions.
    Map(Vec<(String, Pos, Node)>),
}

impl Kind {
    /// The YAML type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Text that is not YAML, with where the parser stopped when it knows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// Where the parser stopped.
    pub pos: Option<Pos>,
    /// The parser's words (first line only).
    pub message: String,
}

/// Parses YAML text into a positioned tree; the error says where it stopped.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.trim().is_empty() {
        return Ok(Node {
            pos: Pos { line: 1, column: 1 },
            kind: Kind::Map(Vec::new()),
        });
    }
    // YAML 1.2 booleans only: with YAML 1.1's `y`/`n`/`yes`/`no`/`on`/`off` a cluster named
    // `no` would become `false`. Boolean fields accept `true`/`false` only anyway.
    let options = serde_saphyr::options! { strict_booleans: true };
    match serde_saphyr::from_str_with_options::<Spanned<Kind>>(text, options) {
        Ok(sp) => Ok(spanned_to_node(sp)),
        Err(e) => {
            let pos = e.location().map(|l| Pos {
                line: l.line() as u32,
                column: l.column() as u32,
            });
            // The library's message may quote the offending text; keep only its first line so a
            // secret on a broken line is not echoed in full.
            let msg = e.to_string();
            let message = msg.lines().next().unwrap_or("invalid YAML").to_owned();
            Err(YamlError { pos, message })
        }
    }
}

fn spanned_to_node(sp: Spanned<Kind>) -> Node {
    Node {
        pos: Pos {
            line: sp.referenced.line() as u32,
            column: sp.referenced.column() as u32,
        },
        kind: sp.value,
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(i64::try_from(v)
            .map(Kind::Int)
            .unwrap_or(Kind::Float(v as f64)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(i64::try_from(v)
            .map(Kind::Int)
            .unwrap_or(Kind::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(i64::try_from(v)
            .map(Kind::Int)
            .unwrap_or(Kind::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Kind>>()? {
            out.push(spanned_to_node(item));
        }
        Ok(Kind::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut out: Vec<(String, Pos, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Kind>>()? {
            let kpos = Pos {
                line: key.referenced.line() as u32,
                column: key.referenced.column() as u32,
            };
            let name = match key.value {
                Kind::Str(s) => s,
                Kind::Int(i) => i.to_string(),
                Kind::Bool(b) => b.to_string(),
                Kind::Float(f) => f.to_string(),
                other => {
                    return Err(de::Error::custom(format!(
                        "line {}: mapping keys must be scalars, found {}",
                        kpos.line,
                        other.type_name()
                    )))
                }
            };
            let value = map.next_value::<Spanned<Kind>>()?;
            if out.iter().any(|(k, _, _)| *k == name) {
                return Err(de::Error::custom(format!(
                    "line {}: duplicate key `{name}`",
                    kpos.line
                )));
            }
            out.push((name, kpos, spanned_to_node(value)));
        }
        Ok(Kind::Map(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_scalar_types() {
        let n = parse("a: 1\nb:\n  - x\n  - '2'\nc: 15s\nd: 1.5\ne: true\nf:\n").unwrap();
        let Kind::Map(m) = n.kind else { panic!() };
        assert_eq!(m[0].0, "a");
        assert_eq!(m[0].2.kind, Kind::Int(1));
        assert_eq!(m[1].1.line, 2);
        let Kind::Seq(s) = &m[1].2.kind else { panic!() };
        assert_eq!(s[0].pos.line, 3);
        assert_eq!(s[1].kind, Kind::Str("2".into()));
        assert_eq!(s[1].pos.line, 4);
        assert_eq!(m[2].2.kind, Kind::Str("15s".into()));
        assert_eq!(m[3].2.kind, Kind::Float(1.5));
        assert_eq!(m[4].2.kind, Kind::Bool(true));
        assert_eq!(m[5].2.kind, Kind::Null);
    }

    #[test]
    fn syntax_error_names_line() {
        let e = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(e.pos.is_some_and(|p| p.line >= 2), "{e:?}");
    }

    #[test]
    fn duplicate_key_is_an_error() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
    }
}
