//! Format helpers: dashboard links and truncation.

use super::*;

#[test]
fn dashboard_placeholders_are_encoded() {
    assert_eq!(
        dashboard_link(
            "https://g/d?c={cluster}&g={group}&t={topic}",
            "prod",
            "a b/c",
            "t&x"
        ),
        "https://g/d?c=prod&g=a%20b%2Fc&t=t%26x"
    );
}

#[test]
fn truncate_counts_characters_not_bytes() {
    assert_eq!(truncate("ééééé", 3), "éé…");
    assert_eq!(truncate("abc", 3), "abc");
}
