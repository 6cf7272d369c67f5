//! One JSON object per line.

use std::io::{self, Write};

use super::RecordWriter;
use crate::record::TransactionRecord;

/// Writes `transactions.jsonl`.
pub struct JsonlWriter {
    out: Box<dyn Write>,
}

impl JsonlWriter {
    /// A writer over `out` (buffer it: every record is one write).
    pub fn new(out: Box<dyn Write>) -> Self {
        JsonlWriter { out }
    }
}

impl RecordWriter for JsonlWriter {
    fn write(&mut self, rec: &TransactionRecord) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, rec)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
