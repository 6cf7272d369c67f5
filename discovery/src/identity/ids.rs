//! What identity says about a request: the consumer, the customer, the network, a login.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::geo::Geo;
use super::network::Prefix;
use super::IdSource;

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:016x}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;

            /// Sixteen hex digits (either case), as `Display` writes them.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                u64::from_str_radix(s, 16).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id! {
    /// A consumer: the keyed hash of its source and canonical value (see the module
    /// documentation). Stable across runs and restarts with the same key; unrelated under
    /// another key. Written as 16 lower-case hex digits.
    ConsumerId
}

hex_id! {
    /// A customer (PSU) behind a consumer: the keyed hash of a JWT customer claim or a consent
    /// id. Written as 16 lower-case hex digits.
    CustomerId
}

/// Who sent one request, as far as the transaction shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The consumer.
    pub id: ConsumerId,
    /// The id the same credential had under the previous hashing key, when one is set
    /// ([`Identifier::with_previous_key`](super::Identifier::with_previous_key)) and the
    /// source hashes a credential (not for a token linked before the rotation, whose client
    /// keeps its old id until it authenticates again). The behavioural layer moves a profile
    /// from this id to `id`, so baselines survive a key rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<ConsumerId>,
    /// The source that named it.
    pub source: IdSource,
    /// A non-secret name for people: the certificate's organisation id, else its CN, else its
    /// subject; the JWT or token client id; the Basic user (an email address masked to
    /// `j***@example.com`); `api-key <header> <8 hex of id>`; `session <cookie> <8 hex>`;
    /// `opaque token <8 hex>`; the network prefix. At most 128 characters, control characters
    /// replaced.
    pub label: String,
    /// The PSD2 `organizationIdentifier` (OID 2.5.4.97) of the client certificate, e.g.
    /// `PSDGB-FCA-123456`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The client certificate's subject, RFC 4514 (at most 1024 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_subject: Option<String>,
    /// The customer behind the consumer, when the bearer token names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerId>,
    /// The client address after trusted-proxy resolution.
    pub client_ip: IpAddr,
    /// `client_ip` cut to the configured network prefix length.
    pub network: Prefix,
    /// The client address's autonomous system and country, from the configured MaxMind
    /// databases ([`Identifier::with_geo`](super::Identifier::with_geo)); empty without them
    /// and for private or reserved addresses. Cloning shares the AS organisation's name.
    #[serde(skip_serializing_if = "Geo::is_empty")]
    pub geo: Geo,
    /// The request carries `x-fapi-customer-ip-address`: under FAPI, the customer is present
    /// (attended access); absent, the access is unattended.
    pub attended: bool,
    /// The request is an authentication attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginAttempt>,
}

/// An authentication attempt and how it ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoginAttempt {
    /// Where it happened (serialised inline: `"kind": "token_endpoint", "grant": "password"`).
    #[serde(flatten)]
    pub kind: LoginKind,
    /// Keyed hash of the user name (ASCII-lower-cased), never the name: the `username` of a
    /// password grant, the user field of a login form, the Basic user of a rejected request.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hex_opt")]
    pub user: Option<u64>,
    /// How it ended.
    pub outcome: LoginOutcome,
}

fn hex_opt<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.collect_str(&format_args!("{x:016x}")),
        None => s.serialize_none(),
    }
}

/// Where an authentication attempt happened.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoginKind {
    /// A POST to an OAuth token endpoint ([`IdentityConfig::token_paths`](super::IdentityConfig::token_paths)).
    TokenEndpoint {
        /// Its `grant_type`.
        grant: Grant,
    },
    /// A POST to a form or JSON login endpoint ([`IdentityConfig::login_paths`](super::IdentityConfig::login_paths)).
    Form,
    /// Any other request that carried credentials and was answered 401: an HTTP
    /// authentication that failed.
    Unauthorized,
}

/// The OAuth `grant_type` of a token request.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// `client_credentials`.
    ClientCredentials,
    /// `password` (resource owner password credentials).
    Password,
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// RFC 8628 device code.
    DeviceCode,
    /// RFC 7523 JWT bearer assertion.
    JwtBearer,
    /// RFC 8693 token exchange.
    TokenExchange,
    /// OpenID CIBA.
    Ciba,
    /// Another grant type.
    Other,
    /// No `grant_type` could be read (none sent, or the body was not captured).
    Missing,
}

impl Grant {
    /// The grant a `grant_type` value names.
    pub fn from_value(v: &[u8]) -> Grant {
        match v {
            b"client_credentials" => Grant::ClientCredentials,
            b"password" => Grant::Password,
            b"authorization_code" => Grant::AuthorizationCode,
            b"refresh_token" => Grant::RefreshToken,
            b"urn:ietf:params:oauth:grant-type:device_code" => Grant::DeviceCode,
            b"urn:ietf:params:oauth:grant-type:jwt-bearer" => Grant::JwtBearer,
            b"urn:ietf:params:oauth:grant-type:token-exchange" => Grant::TokenExchange,
            b"urn:openid:params:grant-type:ciba" => Grant::Ciba,
            _ => Grant::Other,
        }
    }
}

/// How an authentication attempt ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginOutcome {
    /// Accepted (2xx).
    Success,
    /// Refused: 401 or 403; at a token endpoint also 400 with `invalid_grant` or
    /// `invalid_client`; at a login endpoint also 400.
    Failure,
    /// No response, or one that does not say (3xx, 5xx, other 4xx).
    Unknown,
}
