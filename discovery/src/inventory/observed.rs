//! What the inventory made of one transaction, for the layers that score behaviour: the
//! endpoint it was counted on, that endpoint's class as known at that moment, and the facts of
//! the response body.

use super::report::Classification;
use super::scope::Category;

/// Where a transaction landed in the inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Landing {
    /// Counted on an API endpoint of this class. The class is provisional: the report decides
    /// with all traffic seen (a spec's base path that appears later can turn a base-path-less
    /// match into a shadow), and never says `Orphan` here.
    Endpoint {
        /// Documented, shadow or zombie.
        class: Classification,
        /// A shadow endpoint the operator accepted (`[[accept]]`).
        accepted: bool,
    },
    /// Not an API call: an asset, page, health check, OCSP, other content.
    Other(Category),
    /// A 404 (or no answer) on a path of no known endpoint: scanner noise.
    NotFound,
    /// Outside the configured hosts or ports.
    OutOfScope,
    /// No request was seen (a response alone).
    NoRequest,
    /// A bound (`max_services`, endpoints per service or in total) kept it off the inventory.
    Overflow,
}

/// One transaction as the inventory saw it.
#[derive(Clone, Debug)]
pub struct Observed {
    /// Service name (see [`super::service_name`]); empty when no request was seen.
    pub service: String,
    /// Normalised method (`OTHER` for odd ones); empty when no request was seen.
    pub method: String,
    /// The endpoint's path template (documented template with its base path, operator route
    /// or inferred template), when it was counted on one.
    pub template: Option<String>,
    /// The API (`title version` of the spec) of a documented endpoint.
    pub api: Option<String>,
    /// Where it landed.
    pub landing: Landing,
    /// Sensitive values in the response body (all kinds together); 0 when body sampling left
    /// the body unanalysed, which it never does for a successful response to a request
    /// without credentials ([`super::SamplingConfig`]).
    pub response_sensitive: u32,
    /// Object identifiers in the response body, whether it was analysed or only skimmed (see
    /// [`ContentLimits::max_ids`](crate::content::ContentLimits::max_ids) and
    /// [`InventoryConfig::max_object_ids`](super::InventoryConfig::max_object_ids)).
    pub response_ids: Vec<String>,
}

impl Observed {
    pub(super) fn new(service: String, method: String, landing: Landing) -> Self {
        Observed { service, method, template: None, api: None, landing, response_sensitive: 0, response_ids: Vec::new() }
    }

    /// The endpoint's class when the transaction was counted on an API endpoint.
    pub fn class(&self) -> Option<Classification> {
        match self.landing {
            Landing::Endpoint { class, .. } => Some(class),
            _ => None,
        }
    }
}
