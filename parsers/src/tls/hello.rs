//! The ClientHello and ServerHello messages: what they carry and how a complete message body
//! is taken apart. Framing errors (a length that runs past its container) end the parse with
//! a [`Malformed`] reason; everything else odd is kept as a [`HelloAnomaly`] on the hello.

use super::ext::{client_extension, server_extension, KnownSeen};
use super::parser::Malformed;
use super::reader::{u16_list, Reader};
use super::{ext_type, is_grease};

/// Most anomalies kept on one hello; further ones are counted in
/// [`TlsStats::anomalies_dropped`](super::TlsStats::anomalies_dropped) and not kept.
pub const MAX_HELLO_ANOMALIES: usize = 16;

/// The ServerHello random that marks a HelloRetryRequest: SHA-256 of "HelloRetryRequest"
/// (RFC 8446 section 4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Longest session id RFC 5246 and RFC 8446 allow.
const MAX_SESSION_ID: usize = 32;

/// A ClientHello as sent: values are in wire order and GREASE values are kept (fingerprints
/// drop them). Strings from the wire ([`sni`](Self::sni), [`alpn`](Self::alpn)) keep every
/// byte: printable ASCII as is, anything else (and `\`) as `\xNN`.
///
/// Owned, and bounded by the message it came from (at most
/// [`TlsConfig::max_hello_bytes`](super::TlsConfig::max_hello_bytes)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// Version field of the first TLS record that carried the hello (often `0x0301` whatever
    /// the client supports; fingerprints ignore it).
    pub record_version: u16,
    /// How many TLS records the hello spanned.
    pub records: u32,
    /// `legacy_version` of the hello (`0x0303` for TLS 1.3 clients; see
    /// [`supported_versions`](Self::supported_versions)).
    pub legacy_version: u16,
    /// The client random (the key to look a session up in an NSS key log).
    pub random: [u8; 32],
    /// Session id, as sent (RFC allows up to 32 bytes; a longer one is kept and flagged).
    pub session_id: Vec<u8>,
    /// Cipher suites offered, in wire order.
    pub cipher_suites: Vec<u16>,
    /// Compression methods offered (anything but `[0]` is a CRIME-era client).
    pub compression_methods: Vec<u8>,
    /// Extension types in wire order, duplicates included.
    pub extensions: Vec<u16>,
    /// The first `host_name` of the server_name extension.
    pub sni: Option<String>,
    /// ALPN protocol names offered, in order of preference.
    pub alpn: Vec<String>,
    /// The supported_versions extension, in wire order (empty when absent).
    pub supported_versions: Vec<u16>,
    /// The signature_algorithms extension, in wire order.
    pub signature_algorithms: Vec<u16>,
    /// The supported_groups extension, in wire order.
    pub supported_groups: Vec<u16>,
    /// The ec_point_formats extension.
    pub ec_point_formats: Vec<u8>,
    /// Groups the client sent a key share for (TLS 1.3), in wire order.
    pub key_share_groups: Vec<u16>,
    /// The psk_key_exchange_modes extension.
    pub psk_key_exchange_modes: Vec<u8>,
    /// What was odd about the hello, in the order found (at most [`MAX_HELLO_ANOMALIES`]).
    pub anomalies: Vec<HelloAnomaly>,
}

impl ClientHello {
    /// The highest version the client offers: the highest non-GREASE entry of
    /// supported_versions when it has one, else `legacy_version`.
    pub fn max_version(&self) -> u16 {
        self.supported_versions.iter().copied().filter(|&v| !is_grease(v)).max().unwrap_or(self.legacy_version)
    }

    /// Whether the extension type appears in the hello.
    pub fn has_extension(&self, ext: u16) -> bool {
        self.extensions.contains(&ext)
    }
}

/// A ServerHello (or a HelloRetryRequest, which has the same shape) as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// Version field of the first TLS record that carried the hello.
    pub record_version: u16,
    /// How many TLS records the hello spanned.
    pub records: u32,
    /// `legacy_version` of the hello (`0x0303` when TLS 1.3 was chosen; see
    /// [`selected_version`](Self::selected_version)).
    pub legacy_version: u16,
    /// The supported_versions extension: the version the server chose (TLS 1.3 and later).
    pub selected_version: Option<u16>,
    /// The server random.
    pub random: [u8; 32],
    /// Session id, as sent.
    pub session_id: Vec<u8>,
    /// The cipher suite the server chose.
    pub cipher_suite: u16,
    /// The compression method the server chose.
    pub compression_method: u8,
    /// Extension types in wire order, duplicates included.
    pub extensions: Vec<u16>,
    /// The ALPN protocol the server chose.
    pub alpn: Option<String>,
    /// The key_share group: the one the server used, or in a HelloRetryRequest the one it
    /// asks the client for.
    pub key_share_group: Option<u16>,
    /// The random is [`HELLO_RETRY_REQUEST_RANDOM`]: this is a HelloRetryRequest, and the real
    /// ServerHello follows a second ClientHello.
    pub hello_retry_request: bool,
    /// What was odd about the hello, in the order found (at most [`MAX_HELLO_ANOMALIES`]).
    pub anomalies: Vec<HelloAnomaly>,
}

impl ServerHello {
    /// The version the server chose: `selected_version` when present, else `legacy_version`.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Where in a hello message a framing error was found.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HelloField {
    /// `legacy_version`.
    LegacyVersion,
    /// The 32-byte random.
    Random,
    /// The session id vector.
    SessionId,
    /// The ClientHello cipher suite vector (odd length, or longer than the message).
    CipherSuites,
    /// The ClientHello compression method vector.
    CompressionMethods,
    /// The ServerHello cipher suite.
    CipherSuite,
    /// The ServerHello compression method.
    CompressionMethod,
    /// The extensions block length, or an extension header cut by its end.
    Extensions,
    /// The body of an extension of this type ran past the extensions block.
    Extension(u16),
}

/// Something a hello did that the RFCs forbid or that deserves a flag, though the hello
/// could be read. The hello's values are still reported.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HelloAnomaly {
    /// An extension type appeared more than once (RFC 8446 section 4.2); every occurrence is
    /// in `extensions`, only the first was read.
    DuplicateExtension(u16),
    /// A known extension's body did not follow its structure; its values are not reported.
    BadExtensionBody(u16),
    /// The server name is not a DNS host name (RFC 6066): characters other than letters,
    /// digits, `-`, `_` and `.`, an empty label, or longer than 255 bytes. It is still
    /// reported, escaped.
    SniNotHostname,
    /// The server name is an IPv4 literal, which RFC 6066 forbids.
    SniIpLiteral,
    /// An ALPN protocol name was empty (RFC 7301 requires at least one byte).
    EmptyAlpnProtocol,
    /// The ClientHello offered no cipher suite.
    NoCipherSuites,
    /// The session id was longer than 32 bytes; its length.
    SessionIdTooLong(usize),
    /// pre_shared_key was not the last extension of the ClientHello (RFC 8446 section 4.2.11).
    PreSharedKeyNotLast,
    /// Bytes after the extensions block, inside the message; how many.
    TrailingBytes(usize),
}

/// Anomalies of one hello, capped at [`MAX_HELLO_ANOMALIES`].
#[derive(Default)]
pub(crate) struct Anomalies {
    pub(crate) list: Vec<HelloAnomaly>,
    pub(crate) dropped: u64,
}

impl Anomalies {
    pub(crate) fn push(&mut self, anomaly: HelloAnomaly) {
        if self.list.len() < MAX_HELLO_ANOMALIES {
            self.list.push(anomaly);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }
}

fn malformed(field: HelloField, at: usize) -> Malformed {
    Malformed::Field { field, offset: at }
}

/// The fields both hellos start with: version and random.
fn version_and_random(r: &mut Reader<'_>) -> Result<(u16, [u8; 32]), Malformed> {
    let version = r.u16().ok_or_else(|| malformed(HelloField::LegacyVersion, r.offset()))?;
    let at = r.offset();
    let random =
        r.take(32).and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| malformed(HelloField::Random, at))?;
    Ok((version, random))
}

fn session_id(r: &mut Reader<'_>, anomalies: &mut Anomalies) -> Result<Vec<u8>, Malformed> {
    let at = r.offset();
    let id = r.vec8().ok_or_else(|| malformed(HelloField::SessionId, at))?;
    if id.len() > MAX_SESSION_ID {
        anomalies.push(HelloAnomaly::SessionIdTooLong(id.len()));
    }
    Ok(id.to_vec())
}

/// Walks the optional extensions block that ends both hellos, handing each extension to
/// `each(type, body)`; returns the types in wire order. Duplicates are flagged and only
/// their first occurrence is handed on.
fn extensions(
    r: &mut Reader<'_>,
    anomalies: &mut Anomalies,
    mut each: impl FnMut(u16, &[u8], &mut Anomalies),
) -> Result<Vec<u16>, Malformed> {
    let mut types = Vec::new();
    if r.is_empty() {
        // Extensions are optional before TLS 1.3 (SSL 3.0 and old TLS clients omit them).
        return Ok(types);
    }
    let block_at = r.offset();
    let block = r.vec16().ok_or_else(|| malformed(HelloField::Extensions, block_at))?;
    let block_start = block_at.saturating_add(2);
    let mut b = Reader::new(block);
    let mut seen = KnownSeen::default();
    while !b.is_empty() {
        let at = block_start.saturating_add(b.offset());
        let ext = b.u16().ok_or_else(|| malformed(HelloField::Extensions, at))?;
        let body = b.vec16().ok_or_else(|| {
            if b.remaining() < 2 {
                malformed(HelloField::Extensions, at)
            } else {
                malformed(HelloField::Extension(ext), at)
            }
        })?;
        types.push(ext);
        if seen.first_time(ext) {
            each(ext, body, anomalies);
        }
    }
    if !r.is_empty() {
        anomalies.push(HelloAnomaly::TrailingBytes(r.remaining()));
    }
    // Sorting a copy finds duplicates of any type in n log n, whatever a hostile hello holds.
    let mut sorted = types.clone();
    sorted.sort_unstable();
    let mut last_dup = None;
    for pair in sorted.windows(2) {
        if let [a, b] = pair {
            if a == b && last_dup != Some(*a) {
                anomalies.push(HelloAnomaly::DuplicateExtension(*a));
                last_dup = Some(*a);
            }
        }
    }
    Ok(types)
}

/// Takes apart a ClientHello body (the handshake message without its 4-byte header).
/// Offsets in errors count from the start of `body`.
pub(crate) fn parse_client_hello(body: &[u8]) -> Result<(ClientHello, u64), Malformed> {
    let mut r = Reader::new(body);
    let mut anomalies = Anomalies::default();
    let (legacy_version, random) = version_and_random(&mut r)?;
    let session_id = session_id(&mut r, &mut anomalies)?;
    let at = r.offset();
    let cipher_suites = r.vec16().and_then(u16_list).ok_or_else(|| malformed(HelloField::CipherSuites, at))?;
    if cipher_suites.is_empty() {
        anomalies.push(HelloAnomaly::NoCipherSuites);
    }
    let at = r.offset();
    let compression_methods = r.vec8().ok_or_else(|| malformed(HelloField::CompressionMethods, at))?.to_vec();
    let mut hello = ClientHello {
        legacy_version,
        random,
        session_id,
        cipher_suites,
        compression_methods,
        ..ClientHello::default()
    };
    hello.extensions = extensions(&mut r, &mut anomalies, |ext, data, an| client_extension(&mut hello, ext, data, an))?;
    if let Some(psk) = hello.extensions.iter().position(|&e| e == ext_type::PRE_SHARED_KEY) {
        if psk + 1 != hello.extensions.len() {
            anomalies.push(HelloAnomaly::PreSharedKeyNotLast);
        }
    }
    hello.anomalies = anomalies.list;
    Ok((hello, anomalies.dropped))
}

/// Takes apart a ServerHello body (the handshake message without its 4-byte header).
pub(crate) fn parse_server_hello(body: &[u8]) -> Result<(ServerHello, u64), Malformed> {
    let mut r = Reader::new(body);
    let mut anomalies = Anomalies::default();
    let (legacy_version, random) = version_and_random(&mut r)?;
    let session_id = session_id(&mut r, &mut anomalies)?;
    let at = r.offset();
    let cipher_suite = r.u16().ok_or_else(|| malformed(HelloField::CipherSuite, at))?;
    let at = r.offset();
    let compression_method = r.u8().ok_or_else(|| malformed(HelloField::CompressionMethod, at))?;
    let mut hello = ServerHello {
        legacy_version,
        random,
        session_id,
        cipher_suite,
        compression_method,
        hello_retry_request: random == HELLO_RETRY_REQUEST_RANDOM,
        ..ServerHello::default()
    };
    hello.extensions = extensions(&mut r, &mut anomalies, |ext, data, an| server_extension(&mut hello, ext, data, an))?;
    hello.anomalies = anomalies.list;
    Ok((hello, anomalies.dropped))
}
