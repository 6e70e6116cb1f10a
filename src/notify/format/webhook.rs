//! The generic webhook's body: the alerts as lagwatch's JSON shapes them (the same fields
//! as `Alert`, schema version 1), and the HMAC-SHA256 signature of exactly those bytes.

use crate::notify::alert::Batch;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The header carrying the signature: `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Lagwatch-Signature";

/// The JSON document posted.
pub fn payload(b: &Batch) -> Value {
    json!({
        "schema_version": crate::http::api::SCHEMA_VERSION,
        "cluster": b.cluster,
        "at": b.at,
        "alerts": b.alerts,
    })
}

/// The signature header's value for `body` under `secret` (HMAC takes keys of any length;
/// the error is the library's type, never seen in practice).
pub fn signature(secret: &[u8], body: &[u8]) -> Result<String, hmac::digest::InvalidLength> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)?;
    mac.update(body);
    let mut out = String::from("sha256=");
    for b in mac.finalize().into_bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_test_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?").unwrap(),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn payload_carries_every_alert_field() {
        let b = crate::notify::alert::sample("prod", 100.0);
        let v = payload(&b);
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["cluster"], "prod");
        let a = &v["alerts"][0];
        for (field, want) in [
            ("change", json!("opened")),
            ("group", json!("spark-streaming-group")),
            ("status", json!("critical")),
            ("reasons", json!(["lag_critical", "backlog_replay"])),
            ("lag", json!(3_000_000)),
        ] {
            assert_eq!(a[field], want, "{field}");
        }
    }
}
