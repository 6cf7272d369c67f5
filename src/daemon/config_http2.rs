//! `[http2]`: the HTTP/2 parser's limits (docs/http2.md). Every key is optional; what is left
//! out keeps the parser's default. Sizes are in KiB, flood thresholds per second of packet
//! time.

use std::sync::Arc;

use apitap_parsers::h2::H2Config;
use serde::Deserialize;

use super::config::Invalid;

/// The `[http2]` table.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Http2Section {
    /// Streams tracked at once per connection, 1 to 100,000. Default 128.
    pub max_streams: usize,
    /// KiB of one header block (HEADERS or PUSH_PROMISE with its CONTINUATION frames), 1 to
    /// 16,384. Default 64.
    pub max_header_block_kib: usize,
    /// KiB of header list kept per block (RFC 9113's size: name, value and 32 per field), 1 to
    /// 16,384. Default 64.
    pub max_header_list_kib: usize,
    /// KiB of one field (name and value), 1 to 16,384. Default 16.
    pub max_field_kib: usize,
    /// KiB of HPACK dynamic table followed per direction, 4 to 65,536. Default 64.
    pub max_table_kib: usize,
    /// CONTINUATION frames per header block before it is a flood, 1 to 100,000. Default 32.
    pub max_continuations: usize,
    /// SETTINGS frames per second and direction before it is a flood, 1 to 1,000,000.
    /// Default 50.
    pub max_settings_per_second: u32,
    /// PING frames per second and direction before it is a flood, 1 to 1,000,000. Default 50.
    pub max_pings_per_second: u32,
    /// Streams the client resets per second before it is a rapid-reset attack, 1 to
    /// 1,000,000. Default 100.
    pub max_resets_per_second: u32,
}

impl Default for Http2Section {
    fn default() -> Self {
        let d = H2Config::default();
        Http2Section {
            max_streams: d.max_streams,
            max_header_block_kib: d.max_header_block >> 10,
            max_header_list_kib: d.max_header_list >> 10,
            max_field_kib: d.max_field_bytes >> 10,
            max_table_kib: d.max_table_bytes >> 10,
            max_continuations: d.max_continuations,
            max_settings_per_second: d.max_settings_per_window,
            max_pings_per_second: d.max_pings_per_window,
            max_resets_per_second: d.max_resets_per_window,
        }
    }
}

impl Http2Section {
    /// The parser's configuration.
    pub fn h2_config(&self) -> Arc<H2Config> {
        Arc::new(H2Config {
            max_streams: self.max_streams,
            max_header_block: self.max_header_block_kib << 10,
            max_header_list: self.max_header_list_kib << 10,
            max_field_bytes: self.max_field_kib << 10,
            max_table_bytes: self.max_table_kib << 10,
            max_continuations: self.max_continuations,
            flood_window_ns: 1_000_000_000,
            max_settings_per_window: self.max_settings_per_second,
            max_pings_per_window: self.max_pings_per_second,
            max_resets_per_window: self.max_resets_per_second,
            ..H2Config::default()
        })
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), Invalid> {
        let d = Http2Section::default();
        let sizes = [
            ("[http2] max_streams", self.max_streams, 1, 100_000, d.max_streams),
            ("[http2] max_header_block_kib", self.max_header_block_kib, 1, 16_384, d.max_header_block_kib),
            ("[http2] max_header_list_kib", self.max_header_list_kib, 1, 16_384, d.max_header_list_kib),
            ("[http2] max_field_kib", self.max_field_kib, 1, 16_384, d.max_field_kib),
            ("[http2] max_table_kib", self.max_table_kib, 4, 65_536, d.max_table_kib),
            ("[http2] max_continuations", self.max_continuations, 1, 100_000, d.max_continuations),
        ];
        for (key, v, lo, hi, default) in sizes {
            if !(lo..=hi).contains(&v) {
                return Err(Invalid { key: key.into(), problem: format!("must be {lo} to {hi} (default {default})") });
            }
        }
        let rates = [
            ("[http2] max_settings_per_second", self.max_settings_per_second, d.max_settings_per_second),
            ("[http2] max_pings_per_second", self.max_pings_per_second, d.max_pings_per_second),
            ("[http2] max_resets_per_second", self.max_resets_per_second, d.max_resets_per_second),
        ];
        for (key, v, default) in rates {
            if !(1..=1_000_000).contains(&v) {
                return Err(Invalid { key: key.into(), problem: format!("must be 1 to 1000000 (default {default})") });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_parsers_and_bounds_are_checked() {
        let s = Http2Section::default();
        assert_eq!(*s.h2_config(), H2Config::default());
        assert!(s.validate().is_ok());
        let e = Http2Section { max_table_kib: 2, ..s.clone() }.validate().unwrap_err();
        assert_eq!(e.key, "[http2] max_table_kib");
        assert!(e.problem.contains("4 to 65536") && e.problem.contains("default 64"), "{e:?}");
        let e = Http2Section { max_resets_per_second: 0, ..s.clone() }.validate().unwrap_err();
        assert_eq!(e.key, "[http2] max_resets_per_second");
        let c = Http2Section { max_streams: 7, max_header_list_kib: 3, ..s }.h2_config();
        assert_eq!((c.max_streams, c.max_header_list), (7, 3 << 10));
    }
}
