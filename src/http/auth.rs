//! Basic auth with bcrypt hashes for every endpoint but the health check.
//!
//! Only /healthz stays open, so a container HEALTHCHECK or a load balancer probe needs
//! no credentials; everything else answers 401 with a `WWW-Authenticate` challenge.

use crate::config::WebConfig;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Paths served without credentials.
const OPEN_PATHS: &[&str] = &["/healthz"];

/// The configured users; verification is bcrypt, run off the async threads.
pub struct BasicAuth {
    users: Vec<(String, String)>,
}

impl BasicAuth {
    /// Auth for `web`, or none when no users are configured.
    pub fn from_config(web: &WebConfig) -> Option<Arc<BasicAuth>> {
        (!web.basic_auth_users.is_empty()).then(|| {
            Arc::new(BasicAuth {
                users: web.basic_auth_users.clone(),
            })
        })
    }

    /// Whether an `Authorization` header value names a user with the right password.
    pub fn check(&self, authorization: &str) -> bool {
        let Some((user, pass)) = parse_basic(authorization) else {
            return false;
        };
        let known = self.users.iter().find(|(u, _)| *u == user);
        // An unknown user still costs one bcrypt run, so timing does not reveal which
        // user names exist.
        let hash = known.or(self.users.first()).map(|(_, h)| h.as_str());
        let ok = hash.is_some_and(|h| bcrypt::verify(pass.as_bytes(), h).unwrap_or(false));
        ok && known.is_some()
    }
}

/// Splits `Basic base64(user:pass)`; None for anything else.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// Middleware: lets open paths through, otherwise demands valid basic auth.
pub async fn require_auth(
    State(auth): State<Arc<BasicAuth>>,
    req: Request,
    next: Next,
) -> Response {
    if OPEN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ok = match header {
        // bcrypt is deliberately slow (tens of ms): keep it off the reactor threads.
        Some(h) => tokio::task::spawn_blocking(move || auth.check(&h))
            .await
            .unwrap_or(false),
        None => false,
    };
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"lagwatch\"")],
            "authentication required\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn parse_basic_cases() {
        // (header value, expected user and password, why)
        type Case<'a> = (String, Option<(&'a str, &'a str)>, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                format!("Basic {}", b64("al:pw")),
                Some(("al", "pw")),
                "plain",
            ),
            (
                format!("basic {}", b64("al:p:w")),
                Some(("al", "p:w")),
                "scheme is case-insensitive; password may hold ':'",
            ),
            (
                format!("Bearer {}", b64("al:pw")),
                None,
                "other schemes are not basic auth",
            ),
            ("Basic !!!".into(), None, "not base64"),
            (
                format!("Basic {}", b64("nocolon")),
                None,
                "no user:password separator",
            ),
        ];
        for (input, want, why) in cases {
            let got = parse_basic(&input);
            let want = want.map(|(u, p)| (u.to_owned(), p.to_owned()));
            assert_eq!(got, want, "{why}");
        }
    }

    #[test]
    fn check_cases() {
        let hash = bcrypt::hash("right", 4).expect("hash");
        let auth = BasicAuth {
            users: vec![("al".into(), hash)],
        };
        let cases = [
            ("al:right", true, "right user and password"),
            ("al:wrong", false, "wrong password"),
            (
                "bob:right",
                false,
                "unknown user, even with another user's password",
            ),
            ("al:", false, "empty password"),
        ];
        for (cred, want, why) in cases {
            assert_eq!(auth.check(&format!("Basic {}", b64(cred))), want, "{why}");
        }
    }
}
