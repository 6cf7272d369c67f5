//! `anomalies.jsonl`: one finding event per line, the same JSON the Kafka publisher sends
//! (layout: docs/anomalies.md).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use apitap_discovery::behaviour::{Anomaly, Producer};

/// File name inside `--out DIR`.
pub const ANOMALIES_FILE: &str = "anomalies.jsonl";

/// Writes finding events as JSON lines.
pub struct AnomalyWriter {
    out: BufWriter<File>,
    producer: Producer,
    /// Events written.
    pub written: u64,
}

impl AnomalyWriter {
    /// Creates `dir/anomalies.jsonl`.
    pub fn create(dir: &Path, producer: Producer) -> io::Result<Self> {
        let f = File::create(dir.join(ANOMALIES_FILE))?;
        Ok(AnomalyWriter { out: BufWriter::new(f), producer, written: 0 })
    }

    /// Writes one event.
    pub fn write(&mut self, a: &Anomaly) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &a.to_json(&self.producer))?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The sensor id: `APITAP_SENSOR_ID`, else the host name, else `apitap`.
pub fn sensor_id() -> String {
    if let Some(v) = std::env::var("APITAP_SENSOR_ID").ok().filter(|v| !v.trim().is_empty()) {
        return v.trim().to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "apitap".into())
}
