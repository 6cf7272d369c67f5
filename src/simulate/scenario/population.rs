//! `population:` groups: many consumers drawn from the seed instead of written one by one.
//!
//! Each group gives `count` consumers `<group>-1` .. `<group>-<count>`. Everything a consumer
//! gets (authentication, network, rate, attended share, operations, certificate, user agent) is
//! drawn from the seed with a stream of its own per group and per consumer, so growing one
//! group changes no other group's consumers.

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};

use super::parse::auth_kind;
use super::raw::{RawGroup, RawRange};
use super::{auto_customers, cert_header, cidr, overlaps, Api, AuthKind, AuthServer, Consumer, MAX_CONSUMERS, MAX_CUSTOMERS};
use crate::simulate::rng::Rng;

/// Mixed into the seed for the population's stream, apart from the generator's.
const POPULATION_STREAM: u64 = 0x706f_7075_6c61_7469;
/// Largest `sigma` of a group's log-normal rate.
const MAX_SIGMA: f64 = 3.0;
/// A group's rate cap when it gives none: this many times the median.
const DEFAULT_CAP_TIMES_MEDIAN: f64 = 20.0;
/// The longest network prefix a generated consumer gets (a /30 holds two hosts).
const MAX_PREFIX: u8 = 30;

/// Syllables of generated company and product names.
const SYLLABLES: &[&str] = &[
    "al", "bra", "cor", "da", "el", "fin", "gal", "ho", "is", "ju", "ka", "lu", "mon", "no", "or", "pa", "qui", "ro", "sa", "ta",
    "ul", "ve", "wo", "xa", "yo", "zen", "tri", "mar", "vel", "lo",
];
/// Suffixes of generated client software names.
const PRODUCT_SUFFIXES: &[&str] = &["sync", "connect", "backend", "api-client", "aggregator", "gateway", "worker", "app"];
/// Suffixes of generated company names.
const COMPANY_SUFFIXES: &[&str] = &["Ltd", "Limited", "plc", "LLP"];

/// The consumers of every group, checked: ids new, pools inside the address space and apart
/// from configured consumers' networks and from each other.
pub(super) fn expand(
    path: &Path,
    groups: Vec<RawGroup>,
    apis: &[Api],
    auth_server: Option<&AuthServer>,
    configured: &[Consumer],
    start: DateTime<Utc>,
    seed: u64,
) -> Result<Vec<Consumer>> {
    let file = path.display();
    let mut root = Rng::new(seed ^ POPULATION_STREAM);
    let mut out: Vec<Consumer> = Vec::new();
    let mut pools: Vec<(String, (Ipv4Addr, u8))> = Vec::new();
    let mut total = configured.len() as u64;
    for (gi, g) in groups.into_iter().enumerate() {
        let key = format!("population[{gi}]");
        let mut grng = root.fork(gi as u64);
        if g.group.is_empty() || !g.group.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            bail!("{file}: {key}: `group: {}` must be letters, digits, `-` or `_` (consumer ids are `<group>-<n>`)", g.group);
        }
        if pools.iter().any(|(name, _)| *name == g.group) {
            bail!("{file}: {key}: `group: {}` is used twice; group names must be unique", g.group);
        }
        total = total.saturating_add(g.count);
        if g.count == 0 || total > MAX_CONSUMERS {
            bail!("{file}: {key}: `count: {}` must be 1 or more, and all consumers together at most {MAX_CONSUMERS}", g.count);
        }
        if let Some(c) = configured.iter().find(|c| {
            c.id.strip_prefix(&g.group)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| (1..=g.count).contains(&n)))
        }) {
            bail!(
                "{file}: {key}: group `{}` would generate the id `{}` of a configured consumer; rename the group",
                g.group,
                c.id
            );
        }
        // Authentication mix.
        let mut auths: Vec<(AuthKind, f64)> = Vec::new();
        for (name, share) in &g.auth {
            let Some(kind) = auth_kind(name) else {
                bail!("{file}: {key}: `auth: {{{name}: ...}}` is unknown; the keys are jwt, opaque, api_key, basic or none, each with its share");
            };
            if !(share.is_finite() && *share >= 0.0) {
                bail!("{file}: {key}: `auth.{name}: {share}` must be a share of 0 or more");
            }
            if kind == AuthKind::Opaque && *share > 0.0 && auth_server.is_none() {
                bail!("{file}: {key}: opaque tokens need an `auth_server`; add one or drop `opaque` from `auth`");
            }
            auths.push((kind, *share));
        }
        if auths.iter().map(|a| a.1).sum::<f64>() <= 0.0 {
            bail!("{file}: {key}: `auth` needs at least one positive share, like `auth: {{jwt: 0.7, opaque: 0.3}}`");
        }
        // Networks.
        let pool = cidr(path, &format!("{key}.network_pool"), &g.network_pool)?;
        if g.network_prefix < pool.1 || g.network_prefix > MAX_PREFIX {
            bail!("{file}: {key}: `network_prefix: {}` must be {} (the pool's) to {MAX_PREFIX}", g.network_prefix, pool.1);
        }
        let blocks = 1u64 << (g.network_prefix - pool.1);
        if blocks < g.count {
            bail!(
                "{file}: {key}: the pool {} holds {blocks} networks of /{}, fewer than `count: {}`; widen `network_pool` or lengthen `network_prefix`",
                g.network_pool,
                g.network_prefix,
                g.count
            );
        }
        if let Some(c) = configured.iter().find(|c| overlaps(c.network, pool)) {
            bail!(
                "{file}: {key}: `network_pool: {}` overlaps consumer `{}`'s network; give the group a pool of its own",
                g.network_pool,
                c.id
            );
        }
        if let Some((other, _)) = pools.iter().find(|(_, p)| overlaps(*p, pool)) {
            bail!(
                "{file}: {key}: `network_pool: {}` overlaps group `{other}`'s pool; pools must not share addresses",
                g.network_pool
            );
        }
        pools.push((g.group.clone(), pool));
        // Rates, shares, operations.
        let rate = &g.requests_per_hour;
        let cap = rate.max.unwrap_or(rate.median * DEFAULT_CAP_TIMES_MEDIAN);
        if !(rate.median > 0.0
            && rate.median.is_finite()
            && (0.0..=MAX_SIGMA).contains(&rate.sigma)
            && cap >= rate.median
            && cap.is_finite())
        {
            bail!(
                "{file}: {key}: `requests_per_hour` needs `median` above 0, `sigma` 0 to {MAX_SIGMA} and `max` at least the median, like {{median: 3, sigma: 1, max: 60}}"
            );
        }
        let (att_lo, att_hi) = match &g.attended_share {
            None => (0.0, 0.0),
            Some(RawRange::Fixed(v)) => (*v, *v),
            Some(RawRange::Span(v)) if v.len() == 2 => (v.first().copied().unwrap_or(0.0), v.get(1).copied().unwrap_or(0.0)),
            Some(RawRange::Span(_)) => bail!("{file}: {key}: `attended_share` is a share or a range `[low, high]`"),
        };
        if !(0.0..=1.0).contains(&att_lo) || !(0.0..=1.0).contains(&att_hi) || att_lo > att_hi {
            bail!("{file}: {key}: `attended_share` must be 0 to 1, a range low first: `[0.2, 0.6]`");
        }
        for a in &g.apis {
            if !apis.iter().any(|x| &x.name == a) {
                bail!("{file}: {key}: the group calls api `{a}`, which is not under `apis`");
            }
        }
        if g.apis.is_empty() {
            bail!("{file}: {key}: `apis` is empty; name the APIs the group calls");
        }
        if let Some(n) = g.operations_per_consumer {
            if n == 0 || g.operations.is_empty() {
                bail!("{file}: {key}: `operations_per_consumer: {n}` needs a non-empty `operations` list to draw from, and must be 1 or more");
            }
        }
        if !(0.0..=1.0).contains(&g.client_cert_share) {
            bail!("{file}: {key}: `client_cert_share: {}` must be 0 to 1", g.client_cert_share);
        }
        if !(g.requests_per_session >= 1.0 && g.requests_per_session.is_finite()) {
            bail!("{file}: {key}: `requests_per_session: {}` must be 1 or more", g.requests_per_session);
        }
        if let Some(n) = g.customers {
            if !(1..=MAX_CUSTOMERS).contains(&n) {
                bail!("{file}: {key}: `customers: {n}` must be 1 to {MAX_CUSTOMERS}");
            }
        }
        if g.user_agents.iter().any(|u| u.trim().is_empty()) {
            bail!("{file}: {key}: `user_agents` has an empty entry");
        }
        let org_prefix = g.org_id_prefix.clone().unwrap_or_else(|| format!("PSD{}-FCA-", g.cert_country));
        // Networks in a scrambled order: an odd stride walks every block of the pool once.
        let stride = grng.below(blocks / 2).saturating_mul(2) + 1;
        let offset = grng.below(blocks);
        let block_size = 1u64 << (32 - u32::from(g.network_prefix));
        let base = u64::from(u32::from(pool.0) & if pool.1 == 0 { 0 } else { u32::MAX << (32 - u32::from(pool.1)) });
        let weights: Vec<f64> = auths.iter().map(|a| a.1).collect();
        for n in 1..=g.count {
            let mut r = grng.fork(n);
            let id = format!("{}-{n}", g.group);
            let auth = r.weighted(&weights).and_then(|i| auths.get(i)).map_or(AuthKind::Jwt, |a| a.0);
            let block = offset.wrapping_add((n - 1).wrapping_mul(stride)) % blocks;
            let net_base = base + block * block_size;
            let network = (Ipv4Addr::from(u32::try_from(net_base).unwrap_or(0)), g.network_prefix);
            let requests_per_hour = round2(r.lognormal(rate.median, rate.sigma).min(cap));
            let attended_share = round2(att_lo + r.unit() * (att_hi - att_lo));
            let operations = match g.operations_per_consumer {
                Some(k) => subset(&g.operations, k, &mut r),
                None => g.operations.clone(),
            };
            let name = brand(&mut r);
            let user_agent = match r.pick(&g.user_agents) {
                Some(ua) => ua.clone(),
                None => format!(
                    "{}-{}/{}.{}",
                    name.to_lowercase(),
                    r.pick(PRODUCT_SUFFIXES).copied().unwrap_or("client"),
                    1 + r.below(9),
                    r.below(20)
                ),
            };
            let client_id = r.alnum(22);
            let with_cert = g.client_cert_share > 0.0 && r.chance(g.client_cert_share);
            let (client_cert, org_id) = if with_cert {
                let org = format!("{name} {}", r.pick(COMPANY_SUFFIXES).copied().unwrap_or("Ltd"));
                let org_id = format!("{org_prefix}{}", 100_000 + (gi as u64 * 1_000_003 + n * 7_919) % 900_000);
                let cn = r.alnum(18);
                (Some(cert_header(&id, &org, &org_id, &cn, &g.cert_country, start)), Some(org_id))
            } else {
                (None, None)
            };
            let customers =
                g.customers.unwrap_or_else(|| auto_customers(requests_per_hour, g.requests_per_session, attended_share));
            out.push(Consumer {
                id,
                kind: g.kind.clone(),
                auth,
                client_id,
                network,
                user_agent,
                requests_per_hour,
                attended_share,
                apis: g.apis.clone(),
                operations,
                requests_per_session: g.requests_per_session,
                client_cert,
                org_id,
                customers,
                group: Some(g.group.clone()),
                skip_deprecated: true,
            });
        }
    }
    Ok(out)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A capitalised made-up name of two or three syllables.
fn brand(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(SYLLABLES).copied().unwrap_or("a"));
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => s,
    }
}

/// `k` entries of `pool` (all when `k` is larger), in pool order, plus the entries that hand
/// out the ids the drawn ones read: for a `{X}` in a drawn `METHOD /a/{X}/b`, `GET /a` or
/// `POST /a` when the pool has it (a listing or a creation answers with `X`). When every entry
/// is still one with a path parameter and the pool has one without, one of those joins. A
/// consumer must be able to learn ids from an answer before it asks for one by id.
fn subset(pool: &[String], k: u64, rng: &mut Rng) -> Vec<String> {
    let mut idx: Vec<usize> = (0..pool.len()).collect();
    // Partial Fisher-Yates.
    let k = usize::try_from(k).unwrap_or(usize::MAX).min(pool.len());
    for i in 0..k {
        let j = i + usize::try_from(rng.below((idx.len() - i) as u64)).unwrap_or(0);
        idx.swap(i, j);
    }
    let mut chosen: Vec<usize> = idx.get(..k).map(<[usize]>::to_vec).unwrap_or_default();
    let mut i = 0;
    while let Some(entry) = chosen.get(i).and_then(|&c| pool.get(c)) {
        for candidates in providers(entry) {
            if let Some(p) = candidates.iter().find_map(|c| pool.iter().position(|x| x == c)) {
                if !chosen.contains(&p) {
                    chosen.push(p);
                }
            }
        }
        i += 1;
    }
    let has_param = |i: &usize| pool.get(*i).is_some_and(|s| s.contains('{'));
    if chosen.iter().all(has_param) {
        let free: Vec<usize> = (0..pool.len()).filter(|i| !has_param(i)).collect();
        if let Some(f) = rng.pick(&free) {
            chosen.push(*f);
        }
    }
    chosen.sort_unstable();
    chosen.into_iter().filter_map(|i| pool.get(i).cloned()).collect()
}

/// The entries that could hand out the ids `entry` (`METHOD /path`) reads: for each path
/// parameter in turn, `GET` then `POST` of the path before it.
fn providers(entry: &str) -> Vec<[String; 2]> {
    let Some((_, path)) = entry.split_once(' ') else { return Vec::new() };
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = path.get(from..).and_then(|p| p.find("/{")).map(|o| o + from) {
        if let Some(prefix) = path.get(..open).filter(|p| !p.is_empty()) {
            out.push([format!("GET {prefix}"), format!("POST {prefix}")]);
        }
        from = open + 2;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_subset_always_has_an_operation_without_a_path_parameter() {
        let pool: Vec<String> = [
            "GET /accounts",
            "GET /accounts/{AccountId}",
            "GET /accounts/{AccountId}/balances",
            "GET /accounts/{AccountId}/transactions",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let s = subset(&pool, 1 + seed % 3, &mut rng);
            assert!(!s.is_empty() && s.len() <= 4, "{s:?}");
            assert!(s.iter().any(|o| !o.contains('{')), "{s:?}");
            let mut sorted = s.clone();
            sorted.dedup();
            assert_eq!(sorted.len(), s.len(), "no duplicates: {s:?}");
        }
    }

    #[test]
    fn a_subset_brings_the_operations_that_hand_out_its_ids() {
        let pool: Vec<String> = [
            "GET /accounts",
            "GET /accounts/{AccountId}/balances",
            "GET /accounts/{AccountId}/statements",
            "GET /accounts/{AccountId}/statements/{StatementId}",
            "POST /account-access-consents",
            "GET /account-access-consents/{ConsentId}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for seed in 0..300 {
            let s = subset(&pool, 1 + seed % 3, &mut Rng::new(seed));
            let has = |e: &str| s.iter().any(|x| x == e);
            if has("GET /accounts/{AccountId}/statements/{StatementId}") {
                assert!(has("GET /accounts/{AccountId}/statements") && has("GET /accounts"), "{s:?}");
            }
            if has("GET /accounts/{AccountId}/balances") {
                assert!(has("GET /accounts"), "{s:?}");
            }
            if has("GET /account-access-consents/{ConsentId}") {
                assert!(has("POST /account-access-consents"), "{s:?}");
            }
        }
        let p = providers("GET /a/{X}/b/{Y}");
        assert_eq!(p, [["GET /a", "POST /a"], ["GET /a/{X}/b", "POST /a/{X}/b"]]);
        assert!(providers("GET /a").is_empty());
    }

    #[test]
    fn brands_are_capitalised_letters() {
        let mut rng = Rng::new(4);
        for _ in 0..50 {
            let b = brand(&mut rng);
            assert!(
                b.len() >= 3 && b.chars().next().unwrap().is_ascii_uppercase() && b.chars().all(|c| c.is_ascii_alphabetic()),
                "{b}"
            );
        }
    }
}
