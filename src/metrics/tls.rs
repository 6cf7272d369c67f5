//! The endpoint's rustls configuration from PEM files: the server chain and key, and, when a
//! client CA is given, a WebPKI verifier that requires a client certificate chaining to it.
//! The ring provider is named explicitly, so that another crate enabling a second provider in
//! the same binary cannot make the choice ambiguous.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::config::{refuse_world_readable, ConfigError, MetricsTls};

/// Largest PEM file read: a certificate chain or CA bundle is a few tens of KiB.
pub const MAX_PEM_BYTES: u64 = 1 << 20;

fn read_pem(path: &Path, key: &str) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        ConfigError::new(key, format!("cannot read {}: {e}", path.display()), "give the path of a PEM file readable by apitap")
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(ConfigError::new(
            key,
            format!("{} is larger than {MAX_PEM_BYTES} bytes", path.display()),
            "give a PEM file holding only the certificates (or key) needed",
        ));
    }
    Ok(bytes)
}

/// Every certificate of a PEM file; at least one.
fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = read_pem(path, key)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes).collect::<Result<_, _>>().map_err(|e| {
        ConfigError::new(key, format!("{} is not valid PEM: {e}", path.display()), "give a PEM file of `BEGIN CERTIFICATE` blocks")
    })?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            key,
            format!("{} holds no certificate", path.display()),
            "give a PEM file with at least one `BEGIN CERTIFICATE` block",
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    const KEY: &str = "tls.key";
    refuse_world_readable(path, KEY)?;
    let bytes = read_pem(path, KEY)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        ConfigError::new(
            KEY,
            format!("{} holds no usable private key: {e}", path.display()),
            "give an unencrypted PEM key (`BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY`); decrypt one with `openssl pkey -in KEY -out KEY.plain`",
        )
    })
}

/// The rustls server configuration of `tls`, TLS 1.2 and 1.3, ALPN `http/1.1`.
pub fn server_config(tls: &MetricsTls) -> Result<Arc<ServerConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certs(&tls.cert, "tls.cert")?;
    let key = read_key(&tls.key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("tls", format!("rustls refused its default protocol versions: {e}"), "report this as a bug"))?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca, "tls.client_ca")? {
                roots.add(cert).map_err(|e| {
                    ConfigError::new(
                        "tls.client_ca",
                        format!("a certificate in {} is not a usable CA: {e}", ca.display()),
                        "give the PEM certificates of the CA that issues the scrapers' client certificates",
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().map_err(|e| {
                ConfigError::new("tls.client_ca", format!("cannot verify clients with {}: {e}", ca.display()), "give a valid CA certificate file")
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        ConfigError::new(
            "tls.cert",
            format!("{} and {} do not make a usable certificate: {e}", tls.cert.display(), tls.key.display()),
            "give the certificate that matches the key (first in the file, then its intermediates)",
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
