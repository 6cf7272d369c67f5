//! Authentication attempts: token requests, login forms, rejected credentials.

use super::body::{self, RequestFields};
use super::hash::{keyed, Domain};
use super::ids::{Grant, LoginAttempt, LoginKind, LoginOutcome};

/// Whether `path` ends with one of `suffixes` on a segment boundary (`/api/oauth/token`
/// matches `/oauth/token` and `/token`; `/tokens` and `/mytoken` match neither), ignoring ASCII
/// case and a trailing slash.
pub(crate) fn path_matches(path: &str, suffixes: &[String]) -> bool {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    suffixes.iter().any(|s| {
        let s = s.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(s);
        let Some(start) = path.len().checked_sub(s.len()) else { return false };
        path.get(start..).is_some_and(|tail| tail.eq_ignore_ascii_case(s))
            && (start == 0 || s.starts_with('/') || path.get(..start).is_some_and(|head| head.ends_with('/')))
    })
}

/// Where a request stands as an authentication.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A POST to a token endpoint.
    Token,
    /// A POST to a login endpoint.
    Login,
    /// Anything else.
    Other,
}

/// The user hash of a login: the name lower-cased (ASCII), so `Alice` and `alice` are one
/// account, as most login systems treat them.
pub(crate) fn user_hash(key: &[u8; 16], user: &[u8]) -> u64 {
    keyed(key, Domain::LoginUser, &[&user.to_ascii_lowercase()])
}

/// Whether a token endpoint's 400 answer says the credentials were wrong (RFC 6749 section
/// 5.2 `invalid_grant`, `invalid_client`) rather than the request malformed.
fn refused_grant(response_body: &[u8], max_body: usize) -> bool {
    response_body.len() <= max_body
        && body::token_response(response_body)
            .and_then(|r| r.error)
            .is_some_and(|e| e == "invalid_grant" || e == "invalid_client")
}

/// The attempt a request makes, if any.
///
/// - token endpoint: the grant, the `username` of a password grant, success on 2xx, failure on
///   401, 403 and a 400 with `invalid_grant` or `invalid_client`;
/// - login endpoint: the user field, success on 2xx, failure on 400, 401 and 403;
/// - elsewhere, a 401 answer to a request that carried credentials (`credentialed`) is a failed
///   attempt, with the Basic user when there is one (`basic_user`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn attempt(
    key: &[u8; 16],
    endpoint: Endpoint,
    fields: Option<&RequestFields>,
    status: Option<u16>,
    response_body: &[u8],
    max_body: usize,
    credentialed: bool,
    basic_user: Option<&[u8]>,
) -> Option<LoginAttempt> {
    let user = |f: Option<&RequestFields>| f.and_then(|f| f.user.as_deref()).map(|u| user_hash(key, u));
    let outcome = |refused_400: bool| match status {
        Some(200..=299) => LoginOutcome::Success,
        Some(401 | 403) => LoginOutcome::Failure,
        Some(400) if refused_400 => LoginOutcome::Failure,
        _ => LoginOutcome::Unknown,
    };
    match endpoint {
        Endpoint::Token => {
            let grant = fields.and_then(|f| f.grant_type.as_deref()).map_or(Grant::Missing, Grant::from_value);
            let user = if grant == Grant::Password { user(fields) } else { None };
            let refused = status == Some(400) && refused_grant(response_body, max_body);
            Some(LoginAttempt { kind: LoginKind::TokenEndpoint { grant }, user, outcome: outcome(refused) })
        }
        Endpoint::Login => Some(LoginAttempt { kind: LoginKind::Form, user: user(fields), outcome: outcome(true) }),
        Endpoint::Other if status == Some(401) && credentialed => Some(LoginAttempt {
            kind: LoginKind::Unauthorized,
            user: basic_user.map(|u| user_hash(key, u)),
            outcome: LoginOutcome::Failure,
        }),
        Endpoint::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suffixes_match_on_segment_boundaries() {
        let t = list(&["/token", "/oauth2/v1/token", "/as/token.oauth2/"]);
        assert!(path_matches("/token", &t));
        assert!(path_matches("/api/OAuth/TOKEN/", &t));
        assert!(path_matches("/okta/oauth2/v1/token", &t));
        assert!(path_matches("/as/token.oauth2", &t));
        assert!(!path_matches("/tokens", &t));
        assert!(!path_matches("/mytoken", &t));
        assert!(!path_matches("/", &t));
        assert!(!path_matches("", &t));
        assert!(path_matches("/", &list(&["/"])));
    }

    #[test]
    fn outcomes() {
        let key = [7u8; 16];
        let f = RequestFields {
            grant_type: Some(b"password".to_vec()),
            user: Some(b"Alice".to_vec()),
            ..Default::default()
        };
        let a = attempt(&key, Endpoint::Token, Some(&f), Some(400), br#"{"error":"invalid_grant"}"#, 1000, false, None)
            .unwrap();
        assert_eq!(a.kind, LoginKind::TokenEndpoint { grant: Grant::Password });
        assert_eq!(a.outcome, LoginOutcome::Failure);
        assert_eq!(a.user, Some(user_hash(&key, b"alice")));
        let a =
            attempt(&key, Endpoint::Token, Some(&f), Some(400), br#"{"error":"invalid_request"}"#, 1000, false, None)
                .unwrap();
        assert_eq!(a.outcome, LoginOutcome::Unknown);
        let a = attempt(&key, Endpoint::Token, None, None, b"", 1000, false, None).unwrap();
        assert_eq!((a.kind, a.outcome), (LoginKind::TokenEndpoint { grant: Grant::Missing }, LoginOutcome::Unknown));
        let cc = RequestFields {
            grant_type: Some(b"client_credentials".to_vec()),
            user: Some(b"x".to_vec()),
            ..Default::default()
        };
        let a = attempt(&key, Endpoint::Token, Some(&cc), Some(200), b"", 1000, false, None).unwrap();
        assert_eq!((a.user, a.outcome), (None, LoginOutcome::Success), "only a password grant names a user");
        let a = attempt(&key, Endpoint::Login, Some(&f), Some(400), b"", 1000, false, None).unwrap();
        assert_eq!((a.kind, a.outcome), (LoginKind::Form, LoginOutcome::Failure));
        let a = attempt(&key, Endpoint::Login, Some(&f), Some(302), b"", 1000, false, None).unwrap();
        assert_eq!(a.outcome, LoginOutcome::Unknown);
        assert_eq!(attempt(&key, Endpoint::Other, None, Some(401), b"", 1000, false, None), None);
        assert_eq!(attempt(&key, Endpoint::Other, None, Some(403), b"", 1000, true, None), None);
        let a = attempt(&key, Endpoint::Other, None, Some(401), b"", 1000, true, Some(b"Bob")).unwrap();
        assert_eq!(
            (a.kind, a.user, a.outcome),
            (LoginKind::Unauthorized, Some(user_hash(&key, b"bob")), LoginOutcome::Failure)
        );
    }
}
