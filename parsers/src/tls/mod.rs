//! TLS ClientHello metadata (SNI, ALPN, versions) and the JA4 fingerprint.
