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
    /// What is wrong, in plain words and without the position (the caller prints that).
    pub message: String,
}

/// A problem in text that is still YAML: the tree is usable, so the rest of the file is
/// checked too and every such problem is reported, not just the first.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyProblem {
    /// Where the offending key is.
    pub pos: Pos,
    /// Dotted path of the key (`clusters[0].name`); empty when not known.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A parsed file: the tree, and the key problems found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The root node.
    pub root: Node,
    /// Duplicate and non-scalar keys, in file order.
    pub problems: Vec<KeyProblem>,
}

thread_local! {
    // Non-scalar keys met while building the tree. `Kind` is built through serde, which
    // gives the visitor no state of its own; the parse on this thread owns the list.
    static BAD_KEYS: std::cell::RefCell<Vec<(Pos, &'static str)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Parses YAML text into a positioned tree; the error says where it stopped.
pub fn parse(text: &str) -> Result<Parsed, YamlError> {
    if text.trim().is_empty() {
        return Ok(Parsed {
            root: Node {
                pos: Pos { line: 1, column: 1 },
                kind: Kind::Map(Vec::new()),
            },
            problems: Vec::new(),
        });
    }
    // YAML 1.2 booleans only: with YAML 1.1's `y`/`n`/`yes`/`no`/`on`/`off` a cluster named
    // `no` would become `false`. Boolean fields accept `true`/`false` only anyway.
    // Duplicate keys are passed through and reported by `duplicates`, all of them with
    // their paths, instead of the library stopping at the first.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    BAD_KEYS.with(|b| b.borrow_mut().clear());
    let result = serde_saphyr::from_str_with_options::<Spanned<Kind>>(text, options);
    let bad_keys = BAD_KEYS.with(|b| std::mem::take(&mut *b.borrow_mut()));
    match result {
        Ok(sp) => {
            let root = spanned_to_node(sp);
            let mut problems: Vec<KeyProblem> = bad_keys
                .into_iter()
                .map(|(pos, found)| KeyProblem {
                    pos,
                    field: String::new(),
                    message: format!("a key must be a plain name, found {found}"),
                })
                .collect();
            duplicates(&root, "", &mut problems);
            problems.sort_by_key(|p| (p.pos.line, p.pos.column));
            Ok(Parsed { root, problems })
        }
        Err(e) => {
            let pos = e.location().map(|l| Pos {
                line: l.line() as u32,
                column: l.column() as u32,
            });
            Err(YamlError {
                pos,
                message: plain_message(&e),
            })
        }
    }
}

/// The parser's complaint in words a config author knows: no library options, no Rust
/// type names, no position (the caller prints `file:line:column`).
fn plain_message(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    use serde_saphyr::{Error as E, MessageFormatter};
    let mut e = e;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = e {
        e = error;
    }
    let too_much = |what: &str| {
        format!(
            "{what}: this is far larger than any lagwatch configuration (is it the right file?)"
        )
    };
    match e {
        E::Budget { breach, .. } => match breach {
            B::Depth { .. } | B::InclusionDepth { .. } => too_much("values are nested too deeply"),
            B::Aliases { .. } | B::Anchors { .. } => {
                too_much("too many anchors or aliases (`&x`, `*x`)")
            }
            B::ScalarBytes { .. } => too_much("the text values are too long"),
            B::Documents { .. } => too_much("too many YAML documents"),
            _ => too_much("too many values"),
        },
        E::AliasExpansionLimitExceeded { .. } | E::AliasReplayLimitExceeded { .. } => {
            too_much("aliases (`*x`) expand to too many values")
        }
        E::MultipleDocuments { .. } => {
            "more than one YAML document (a `---` line): the configuration is one document"
                .to_owned()
        }
        E::DuplicateMappingKey { key: Some(k), .. } => format!("duplicate key `{k}`"),
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_owned(),
        // The library's own words for a user; keep the first line only, so a secret on a
        // broken line is not echoed in full.
        other => {
            let msg = serde_saphyr::UserMessageFormatter.format_message(other);
            msg.lines().next().unwrap_or("invalid YAML").to_owned()
        }
    }
}

/// Every repeated key in the tree, each at its own line, naming the first occurrence.
fn duplicates(node: &Node, path: &str, out: &mut Vec<KeyProblem>) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match &node.kind {
        Kind::Map(entries) => {
            for (i, (k, kpos, v)) in entries.iter().enumerate() {
                if let Some((_, first, _)) = entries[..i].iter().find(|(f, _, _)| f == k) {
                    out.push(KeyProblem {
                        pos: *kpos,
                        field: child(k),
                        message: format!(
                            "duplicate key `{k}` (first at line {}); each key may appear once",
                            first.line
                        ),
                    });
                } else {
                    duplicates(v, &child(k), out);
                }
            }
        }
        Kind::Seq(items) => {
            for (i, n) in items.iter().enumerate() {
                duplicates(n, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
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
                    // Skipped and reported after the parse, with the rest of the file checked.
                    BAD_KEYS.with(|b| b.borrow_mut().push((kpos, other.type_name())));
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<Spanned<Kind>>()?;
            // Duplicates stay in the tree (readers use the first); `duplicates` reports them.
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
        let n = parse("a: 1\nb:\n  - x\n  - '2'\nc: 15s\nd: 1.5\ne: true\nf:\n")
            .unwrap()
            .root;
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
    fn every_duplicate_key_is_reported_with_its_path_and_line() {
        let p = parse("a: 1\na: 2\nb:\n  - x: 1\n    x: 2\n    y: 3\n    y: 4\n").unwrap();
        let got: Vec<(u32, u32, &str)> = p
            .problems
            .iter()
            .map(|k| (k.pos.line, k.pos.column, k.field.as_str()))
            .collect();
        assert_eq!(got, [(2, 1, "a"), (5, 5, "b[0].x"), (7, 5, "b[0].y")]);
        assert!(
            p.problems[1].message.contains("first at line 4"),
            "{:?}",
            p.problems
        );
    }

    #[test]
    fn a_non_scalar_key_is_reported_at_its_position_and_the_rest_is_read() {
        let p = parse("? [a]\n: 1\nb: 2\n").unwrap();
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].pos.line, 1);
        assert!(p.problems[0].message.contains("found a list"));
        let Kind::Map(m) = p.root.kind else { panic!() };
        assert_eq!(m.len(), 1, "b is still read");
    }

    #[test]
    fn parser_messages_are_plain_words_without_the_position() {
        let nested = "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
            c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
            e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
        // Rows: input, a word the message must have (and why).
        let rows = [
            (
                "a: [1, 2",
                "unclosed",
                "the library's own words, minus its position prefix",
            ),
            (
                "a: 1\n---\nb: 2\n",
                "one document",
                "not `use from_str_multiple`",
            ),
            (nested, "far larger", "not `budget breached: Nodes`"),
        ];
        for (text, want, why) in rows {
            let e = parse(text).expect_err(why);
            assert!(e.message.contains(want), "{why}: {}", e.message);
            for leak in ["at line", "column", "Options", "budget", "from_str", "{"] {
                assert!(!e.message.contains(leak), "{why}: {}", e.message);
            }
            assert!(
                e.pos.is_some_and(|p| p.line >= 1 && p.column >= 1),
                "{why}: {e:?}"
            );
        }
    }
}
