//! HPACK (RFC 7541) decoding of header blocks, with the dynamic table kept as far as it is
//! known (see `table.rs` for the mid-connection rules) and every size bounded.
//!
//! A header block is decoded whole once its last frame has arrived. Every instruction is
//! applied to the dynamic table, even after the block has gone over a limit: the table must
//! stay in step with the peer's encoder or every later block would decode wrongly. What is
//! bounded is what is *kept*: fields past [`BlockLimits::max_list`] are counted, not copied,
//! which is what defuses an HPACK bomb (a small block of many references to a large entry).

pub(crate) mod huffman;
pub(crate) mod static_table;
pub(crate) mod table;

use table::{DynTable, Lookup, ENTRY_OVERHEAD};

/// Decoded size over encoded size past which a header block over the list limit counts as an
/// HPACK bomb (an honest block of literals expands by at most 8/5 with Huffman; references to
/// the tables expand more, but not by this much in any header set seen in practice).
pub(crate) const HPACK_BOMB_RATIO: usize = 16;

/// One decoded field; a part is `None` when it refers to a table entry we do not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeaderField {
    pub name: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Why decoding a block stopped early (RFC 7541 section 6 framing errors).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HpackError {
    /// An integer ran past the end of the block or over 2^28.
    BadInteger,
    /// A string ran past the end of the block.
    Truncated,
    /// A Huffman string was malformed (EOS inside, bad padding).
    BadHuffman,
    /// Index 0, or an index past a table with nothing unknown behind it.
    BadIndex,
    /// A size update above the bound the decoding side announced.
    SizeUpdateOverSetting,
}

impl HpackError {
    /// Stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            HpackError::BadInteger => "bad_integer",
            HpackError::Truncated => "truncated",
            HpackError::BadHuffman => "bad_huffman",
            HpackError::BadIndex => "bad_index",
            HpackError::SizeUpdateOverSetting => "size_update_over_setting",
        }
    }
}

/// Bounds on what one block may keep.
#[derive(Copy, Clone, Debug)]
pub(crate) struct BlockLimits {
    /// Header list size (RFC 9113 sense: name + value + 32 per field) kept.
    pub max_list: usize,
    /// Longest field (name + value) kept.
    pub max_field: usize,
}

/// What decoding one block produced.
#[derive(Debug, Default)]
pub(crate) struct Block {
    /// Fields kept, in order.
    pub fields: Vec<HeaderField>,
    /// Fields with a part that could not be known.
    pub unknown: u32,
    /// Header list size of the whole block (kept or not).
    pub list_size: usize,
    /// Fields not kept because the list went over `max_list`.
    pub list_dropped: u32,
    /// Fields not kept because they were over `max_field`.
    pub field_dropped: u32,
    /// Decoding stopped here (the table is then lost).
    pub error: Option<HpackError>,
    /// The table came back in sync during this block (it was not before, it is after).
    pub resynced: bool,
    /// A reference proved the table out of sync when it was believed in sync.
    pub desynced: bool,
}

impl Block {
    /// Whether the block is a bomb: over the list limit by references that expand far more
    /// than any literal can.
    pub fn is_bomb(&self, encoded_len: usize) -> bool {
        self.list_dropped > 0 && self.list_size > encoded_len.saturating_mul(HPACK_BOMB_RATIO)
    }
}

/// The HPACK decoder of one direction.
#[derive(Debug)]
pub(crate) struct Decoder {
    table: DynTable,
}

/// A cursor over a block.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// An integer with an `n`-bit prefix (RFC 7541 section 5.1), at most 2^28.
    fn integer(&mut self, n: u32) -> Result<usize, HpackError> {
        let first = self.peek().ok_or(HpackError::BadInteger)?;
        self.pos += 1;
        let max_prefix = (1usize << n) - 1;
        let mut value = usize::from(first) & max_prefix;
        if value < max_prefix {
            return Ok(value);
        }
        let mut shift = 0u32;
        loop {
            let b = self.peek().ok_or(HpackError::BadInteger)?;
            self.pos += 1;
            value = value.checked_add(usize::from(b & 0x7f) << shift).ok_or(HpackError::BadInteger)?;
            if value > 1 << 28 {
                return Err(HpackError::BadInteger);
            }
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 28 {
                return Err(HpackError::BadInteger);
            }
        }
    }

    /// A string literal (section 5.2), Huffman-decoded when flagged.
    fn string(&mut self) -> Result<Vec<u8>, HpackError> {
        let huffman = self.peek().is_some_and(|b| b & 0x80 != 0);
        let len = self.integer(7)?;
        let end = self.pos.checked_add(len).ok_or(HpackError::Truncated)?;
        let raw = self.buf.get(self.pos..end).ok_or(HpackError::Truncated)?;
        self.pos = end;
        if !huffman {
            return Ok(raw.to_vec());
        }
        // Each symbol takes 5 bits at least: the output is bounded by the input.
        let mut out = Vec::with_capacity(len.saturating_mul(8) / 5 + 1);
        huffman::decode(raw, len.saturating_mul(8) / 5 + 1, &mut out).map_err(|_| HpackError::BadHuffman)?;
        Ok(out)
    }
}

/// A name or value as far as it is known.
type Part = Option<Vec<u8>>;

impl Decoder {
    /// The decoder at the start of a connection.
    pub fn new(max_table: usize) -> Self {
        Decoder { table: DynTable::new(max_table) }
    }

    /// The decoder of a connection joined after its start.
    pub fn joined(max_table: usize) -> Self {
        Decoder { table: DynTable::joined(max_table) }
    }

    /// The connection turned out to be joined mid-way after this decoder started as if at
    /// its beginning: entries older than those seen may exist.
    pub fn assume_joined(&mut self) {
        self.table.assume_joined();
    }

    /// The connection was seen from its start after all (see `DynTable::confirm_start`).
    pub fn confirm_start(&mut self) {
        self.table.confirm_start();
    }

    /// Header stream bytes were lost: the table is no longer known.
    pub fn lose(&mut self) {
        self.table.lose();
    }

    /// Whether every entry the encoder may reference is known.
    pub fn in_sync(&self) -> bool {
        self.table.in_sync()
    }

    /// The decoding side's SETTINGS_HEADER_TABLE_SIZE.
    pub fn set_setting(&mut self, value: usize) {
        self.table.set_setting(value);
    }

    /// Heap bytes of the table.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
    }

    /// The field at HPACK index `index` (static or dynamic), or why there is none.
    fn lookup(&mut self, index: usize, block: &mut Block) -> Result<(Part, Part), HpackError> {
        if index == 0 {
            return Err(HpackError::BadIndex);
        }
        if let Some((n, v)) = static_table::get(index) {
            return Ok((Some(n.as_bytes().to_vec()), Some(v.as_bytes().to_vec())));
        }
        let dynamic = index - static_table::STATIC.len() - 1;
        match self.table.get(dynamic) {
            Lookup::Found(e) => Ok((e.name.as_ref().map(|n| n.to_vec()), e.value.as_ref().map(|v| v.to_vec()))),
            Lookup::Unknown => {
                if self.table.in_sync() {
                    block.desynced = true;
                }
                self.table.mark_unknown_tail();
                Ok((None, None))
            }
            Lookup::Invalid => Err(HpackError::BadIndex),
        }
    }

    /// The size (lower bound) an entry would have, without copying it.
    fn entry_size(&mut self, index: usize, block: &mut Block) -> Result<Option<usize>, HpackError> {
        if index == 0 {
            return Err(HpackError::BadIndex);
        }
        if let Some((n, v)) = static_table::get(index) {
            return Ok(Some(n.len() + v.len() + ENTRY_OVERHEAD));
        }
        let dynamic = index - static_table::STATIC.len() - 1;
        match self.table.get(dynamic) {
            Lookup::Found(e) => Ok(Some(e.size)),
            Lookup::Unknown => {
                if self.table.in_sync() {
                    block.desynced = true;
                }
                self.table.mark_unknown_tail();
                Ok(None)
            }
            Lookup::Invalid => Err(HpackError::BadIndex),
        }
    }

    /// Decodes one complete header block. On an error the table is lost (its state can no
    /// longer be known) and the fields decoded so far are kept.
    pub fn decode(&mut self, data: &[u8], limits: BlockLimits) -> Block {
        let mut block = Block::default();
        let before = self.table.in_sync();
        let mut r = Reader { buf: data, pos: 0 };
        while let Some(first) = r.peek() {
            if let Err(e) = self.instruction(first, &mut r, limits, &mut block) {
                block.error = Some(e);
                self.table.lose();
                break;
            }
        }
        block.resynced = !before && self.table.in_sync();
        block
    }

    fn instruction(
        &mut self,
        first: u8,
        r: &mut Reader<'_>,
        limits: BlockLimits,
        block: &mut Block,
    ) -> Result<(), HpackError> {
        if first & 0x80 != 0 {
            // Indexed field: counted first, copied only when kept.
            let index = r.integer(7)?;
            let size = self.entry_size(index, block)?;
            let fits = size.is_some_and(|s| {
                block.list_size.saturating_add(s) <= limits.max_list && s - ENTRY_OVERHEAD <= limits.max_field
            });
            if fits {
                let (name, value) = self.lookup(index, block)?;
                self.keep(name, value, limits, block);
            } else {
                match size {
                    Some(s) => self.drop_field(s, limits, block),
                    None => self.keep(None, None, limits, block),
                }
            }
            return Ok(());
        }
        if first & 0xe0 == 0x20 {
            let new_max = r.integer(5)?;
            let over = self.table.setting().is_some_and(|s| new_max > s);
            self.table.size_update(new_max);
            if over {
                return Err(HpackError::SizeUpdateOverSetting);
            }
            return Ok(());
        }
        let (prefix, indexing) = if first & 0xc0 == 0x40 { (6, true) } else { (4, false) };
        let name_index = r.integer(prefix)?;
        let name = if name_index == 0 { Some(r.string()?) } else { self.lookup(name_index, block)?.0 };
        let value = r.string()?;
        if indexing {
            let size = name.as_ref().map_or(0, Vec::len) + value.len() + ENTRY_OVERHEAD;
            let entry_name = name.as_ref().map(|n| n.clone().into_boxed_slice());
            self.table.insert(entry_name, Some(value.clone().into_boxed_slice()), size);
        }
        self.keep(name, Some(value), limits, block);
        Ok(())
    }

    fn keep(&mut self, name: Part, value: Part, limits: BlockLimits, block: &mut Block) {
        let known = name.as_ref().map_or(0, Vec::len) + value.as_ref().map_or(0, Vec::len);
        let size = known + ENTRY_OVERHEAD;
        if name.is_none() || value.is_none() {
            block.unknown += 1;
        }
        if known > limits.max_field {
            block.field_dropped += 1;
            block.list_size = block.list_size.saturating_add(size);
            return;
        }
        block.list_size = block.list_size.saturating_add(size);
        if block.list_size > limits.max_list {
            block.list_dropped += 1;
            return;
        }
        block.fields.push(HeaderField { name, value });
    }

    fn drop_field(&mut self, size: usize, limits: BlockLimits, block: &mut Block) {
        block.list_size = block.list_size.saturating_add(size);
        if size - ENTRY_OVERHEAD > limits.max_field {
            block.field_dropped += 1;
        } else {
            block.list_dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests;
