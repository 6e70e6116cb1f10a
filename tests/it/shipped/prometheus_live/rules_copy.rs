//! The test's copy of `alerts/lagwatch-rules.yaml`: the shipped rules with time and size
//! scaled down so alerts fire within seconds on a small mock-cluster backlog. The shipped
//! file is only read. Exactly these changes, each of which must apply:
//! - every `for: <duration>` becomes `for: 0s` (firing on the first evaluation);
//! - message thresholds are divided by 1000: `>= 1000000` → `>= 1000` (lag critical),
//!   `>= 100000` → `>= 100` (lag warning), `>= 10000` → `>= 10` (backlog floor);
//! - the backlog floor in time, `60 * lagwatch_topic_produce_rate`, becomes `1 * ...`.
//!
//! lagwatch in the test runs with the same scaled thresholds, so both sides agree.

use regex::Regex;

/// (pattern, replacement, why) applied in order; each must match at least once.
const CHANGES: &[(&str, &str, &str)] = &[
    (
        r"for: \d+[smhd]\b",
        "for: 0s",
        "alerts fire on the first evaluation",
    ),
    (r">= 1000000\b", ">= 1000", "lag critical / 1000"),
    (r">= 100000\b", ">= 100", "lag warning / 1000"),
    (r">= 10000\b", ">= 10", "backlog floor in messages / 1000"),
    (
        r"\b60 \* lagwatch_topic_produce_rate",
        "1 * lagwatch_topic_produce_rate",
        "backlog floor of 1 s of production instead of 60 s",
    ),
];

/// The shipped rules with the changes above; panics if one no longer applies, so the copy
/// cannot silently drift from what ships.
pub fn for_live_test(shipped: &str) -> String {
    let mut out = shipped.to_owned();
    for (pat, rep, why) in CHANGES {
        let re = Regex::new(pat).expect("pattern");
        assert!(
            re.is_match(&out),
            "rules copy: `{pat}` ({why}) no longer matches alerts/lagwatch-rules.yaml"
        );
        out = re.replace_all(&out, *rep).into_owned();
    }
    out
}

#[test]
fn rules_copy_changes_exactly_the_documented_things() {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/lagwatch-rules.yaml"),
    )
    .expect("read rules");
    let copy = for_live_test(&shipped);
    // (text, count in the copy, why)
    let cases: &[(&str, usize, &str)] = &[
        (
            "for: 0s",
            shipped.matches("for: ").count(),
            "every `for:` shortened",
        ),
        (">= 1000000", 0, "no unscaled critical threshold left"),
        (">= 100000", 0, "no unscaled warning threshold left"),
        (">= 10000", 0, "no unscaled backlog floor left"),
        ("60 * lagwatch", 0, "no 60 s backlog floor left"),
        (">= 1000\n", 1, "LagCritical, scaled"),
        (">= 100\n", 1, "LagWarning, scaled"),
        (
            "(lagwatch_group_topic_lag >= 10)",
            2,
            "LowHeadroom and FallingBehind floors",
        ),
        (
            "(1 * lagwatch_topic_produce_rate)",
            2,
            "LowHeadroom and FallingBehind floors",
        ),
    ];
    for (text, n, why) in cases {
        assert_eq!(copy.matches(text).count(), *n, "`{text}`: {why}");
    }
    // Nothing else changed: the lines differ only where a case above says so.
    let changed = shipped
        .lines()
        .zip(copy.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(shipped.lines().count(), copy.lines().count());
    assert_eq!(
        changed,
        shipped.matches("for: ").count() + 2 + 4,
        "changed lines"
    );
}
