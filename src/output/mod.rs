//! Writers for transaction records.

mod anomalies;
mod jsonl;
mod kafka;
mod zeek;

use std::io::{self, Write};

use crate::cli::OutputFormat;
use crate::record::TransactionRecord;

pub use anomalies::{sensor_id, AnomalyWriter, ANOMALIES_FILE};
pub use jsonl::JsonlWriter;
pub use kafka::{KafkaSink, SHUTDOWN_TIMEOUT};
pub use zeek::ZeekWriter;

/// Something that takes records, one at a time, in completion order.
pub trait RecordWriter {
    /// Writes one record.
    fn write(&mut self, rec: &TransactionRecord) -> io::Result<()>;
    /// Flushes everything written.
    fn finish(&mut self) -> io::Result<()>;
}

/// The file name used for a format inside `--out DIR`.
pub fn file_name(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Jsonl => "transactions.jsonl",
        OutputFormat::Zeek => "http.log",
    }
}

/// A writer of the given format over `out`.
pub fn writer(format: OutputFormat, out: Box<dyn Write>) -> Box<dyn RecordWriter> {
    match format {
        OutputFormat::Jsonl => Box::new(JsonlWriter::new(out)),
        OutputFormat::Zeek => Box::new(ZeekWriter::new(out)),
    }
}
