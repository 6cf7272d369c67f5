//! Capture files (classic pcap and pcapng) through `sensor::capture::CaptureParser`, each
//! packet then through the decoder, as `apitap read` does. Input: the bytes of a file. Seeds:
//! the small captures of the repository and ../shared, and pcapng copies of some of them
//! (`fuzz/seed.py`, with editcap when it is installed).
//!
//! Checked besides "no panic": the parser makes progress (an item consumes bytes; `NeedMore`
//! asks for more than it has), and reading the file as the binary does, a growing buffer
//! refilled whenever the parser asks for more, gives the same packets, bad records and end as
//! parsing it from one buffer.
#![no_main]

use apitap_sensor::capture::{CaptureParser, Parsed};
use apitap_sensor::decode::Decoder;
use libfuzzer_sys::fuzz_target;

/// What a file read to its end gave: each item in order, and how reading ended.
fn read(data: &[u8], chunk: usize, decoder: Option<&mut Decoder>) -> (Vec<String>, String) {
    let mut p = CaptureParser::new();
    let mut items = Vec::new();
    let mut pos = 0;
    let mut avail = if chunk == 0 { data.len() } else { chunk.min(data.len()) };
    let mut decoder = decoder;
    loop {
        let buf = &data[pos..avail];
        match p.parse(buf) {
            Err(e) => return (items, format!("error {e}")),
            Ok((_, Parsed::NeedMore(n))) => {
                assert!(n > buf.len(), "NeedMore({n}) with {} bytes in hand", buf.len());
                if avail == data.len() {
                    return (items, format!("end, {} bytes left", buf.len()));
                }
                avail = (avail + chunk.max(1)).max(pos + n).min(data.len());
            }
            Ok((consumed, item)) => {
                assert!(consumed > 0 && consumed <= buf.len(), "consumed {consumed} of {}", buf.len());
                items.push(match item {
                    Parsed::Packet(r) => {
                        if let Some(d) = decoder.as_deref_mut() {
                            let _ = d.decode(r.ts, r.link, r.data, r.wire_len);
                            while d.poll_event().is_some() {}
                        }
                        format!("packet {:?} {:?} {} {:?} {}", r.ts, r.link, r.wire_len, r.data, r.interface)
                    }
                    Parsed::Other => "other".to_string(),
                    Parsed::BadRecord(e) => format!("bad {e}"),
                    Parsed::NeedMore(_) => unreachable!(),
                });
                pos += consumed;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::default();
    let whole = read(data, 0, Some(&mut decoder));
    let chunk = 1 + data.len() % 61;
    let streamed = read(data, chunk, None);
    assert_eq!(whole, streamed, "reading in chunks of {chunk} changed the result");
});
