//! A cluster's `aws_msk_iam` key: AWS MSK IAM authentication on the fast path (SASL_SSL,
//! OAUTHBEARER with a SigV4-presigned token). librdkafka cannot make that token, so such a
//! cluster is read by the fast path only.

use super::reader::{join, Cx, MapView};
use super::security::{self, AwsMskIam, Secret};

const KEYS: &[&str] = &[
    "region",
    "access_key_id",
    "secret_access_key",
    "session_token",
];

/// Reads `aws_msk_iam` (absent: `None`). The region defaults to the one in the first
/// bootstrap server's MSK host name; keys default to the standard AWS chain.
pub(super) fn read(
    cx: &mut Cx<'_>,
    m: MapView<'_>,
    path: &str,
    bootstrap: Option<&str>,
) -> Option<AwsMskIam> {
    let node = m.get("aws_msk_iam")?;
    let field = join(path, "aws_msk_iam");
    let a = cx.map(node, &field, KEYS)?;
    let host = bootstrap
        .and_then(|b| b.split(',').next())
        .and_then(|hp| hp.rsplit_once(':').map(|(h, _)| h));
    let region = cx
        .opt_string(a, &field, "region")
        .or_else(|| host.and_then(security::msk_region_of).map(str::to_owned));
    let Some(region) = region else {
        cx.error(
            a.pos,
            &join(&field, "region"),
            "no region, and the bootstrap server is not an MSK host name that names one",
        );
        return None;
    };
    let key_id = cx.opt_string(a, &field, "access_key_id");
    let secret = cx.opt_string(a, &field, "secret_access_key");
    let token = cx.opt_string(a, &field, "session_token");
    let keys = match (key_id, secret) {
        (Some(id), Some(s)) => Some((id, Secret(s), token.map(Secret))),
        (None, None) => None,
        _ => {
            cx.error(
                a.pos,
                &field,
                "set both access_key_id and secret_access_key, or neither (the AWS chain)",
            );
            return None;
        }
    };
    Some(AwsMskIam { region, keys })
}
