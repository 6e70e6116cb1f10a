//! The folder tree reads as the data path: checks on src/ that keep it that way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The top-level modules of src/ in data-path order: each may import only those before it
/// (and itself). The same order as lib.rs's module map.
const LAYERS: &[&[&str]] = &[
    &["runtime"],
    &["config"],
    &["snapshot"],
    &["source"],
    &["view"],
    &["model"],
    &["state"],
    &["metrics"],
    &["poller"],
    &["http", "notify"],
    &["app"],
    &["cli"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src/") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    rust_files(&src(), &mut v);
    v.sort();
    v
}

/// The top-level module a file belongs to (`src/source/kafka/poll.rs` -> `source`).
fn top(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src/");
    let first = rel.components().next().expect("non-empty");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned()
}

/// Code without `//` comments (doc comments name modules freely).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level modules named after `crate::`, including inside `crate::{a, b::c}`.
fn imports(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn no_module_imports_one_that_comes_later_in_the_data_path() {
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in files() {
        let m = top(&f);
        if m == "lib" || m == "main" {
            continue;
        }
        let Some(own) = rank(&m) else {
            panic!("src/{m} is not in LAYERS: add it where it belongs in the data path");
        };
        let text = std::fs::read_to_string(&f).expect("read");
        for imp in imports(&code(&text)) {
            let Some(r) = rank(&imp) else { continue };
            if r > own {
                wrong.entry(f.display().to_string()).or_default().push(imp);
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the data path: {wrong:#?}"
    );
}

#[test]
fn unsafe_code_lives_in_one_module() {
    let module = src().join("source/kafka/librdkafka");
    let outside: Vec<String> = files()
        .into_iter()
        .filter(|f| !f.starts_with(&module))
        .filter(|f| code(&std::fs::read_to_string(f).expect("read")).contains("unsafe"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "unsafe outside librdkafka/: {outside:#?}"
    );
    let contract = std::fs::read_to_string(module.join("mod.rs")).expect("read");
    assert!(contract.contains("#![allow(unsafe_code)]") && contract.contains("Safety contract"));
}

#[test]
fn files_stay_near_400_lines() {
    let long: Vec<(String, usize)> = files()
        .into_iter()
        .map(|f| {
            let n = std::fs::read_to_string(&f).expect("read").lines().count();
            (f.display().to_string(), n)
        })
        .filter(|(_, n)| *n > 450)
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

/// Debug formatting in a message a user reads (`{x:?}` in an error, a log line or output)
/// prints `Some(3s)` or `[..]` instead of words. The only allowed sites are listed, so the
/// list can only shrink.
#[test]
fn user_facing_messages_do_not_use_debug_formatting() {
    const KNOWN: &[(&str, usize)] = &[
        // kafka-protocol's ApiKey has no Display; its Debug is the protocol's own API name
        // (`OffsetFetch`), which is the word a user looks up (also the `api` label of
        // lagwatch_kafka_requests_total, through `wire::api_name`).
        ("source/kafka/batched/wire/mod.rs", 3),
        // `{0:?}` on text the checkpoint holds: quoting with escapes is intended there.
        ("source/spark/parse.rs", 2),
    ];
    let macros = [
        "#[error(",
        "format!(",
        "println!(",
        "eprintln!(",
        "warn!(",
        "error!(",
        "info!(",
    ];
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for f in files() {
        let rel = f
            .strip_prefix(src())
            .expect("under src/")
            .display()
            .to_string();
        if rel.ends_with("tests.rs") || rel.contains("/tests/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read");
        // Unit tests at the end of a file print what they like.
        let body = text.split("#[cfg(test)]").next().unwrap_or("");
        for line in code(body).lines() {
            if macros.iter().any(|m| line.contains(m)) && line.contains(":?}") {
                *found.entry(rel.clone()).or_default() += 1;
            }
        }
    }
    let known: BTreeMap<String, usize> = KNOWN.iter().map(|(f, n)| ((*f).to_owned(), *n)).collect();
    assert_eq!(found, known, "debug formatting in user-facing messages");
}
