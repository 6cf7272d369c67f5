//! RFC 7541 Appendix C, every example (C.2 to C.6), and the decoder's bounds.

use super::*;

const LIMITS: BlockLimits = BlockLimits { max_list: 1 << 20, max_field: 1 << 20 };

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

fn pairs(block: &Block) -> Vec<(String, String)> {
    block
        .fields
        .iter()
        .map(|f| {
            (String::from_utf8(f.name.clone().unwrap()).unwrap(), String::from_utf8(f.value.clone().unwrap()).unwrap())
        })
        .collect()
}

fn list(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// The table as the RFC prints it after each example: (name, value) newest first, and size.
fn table(d: &Decoder) -> (Vec<(String, String)>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    while let Lookup::Found(e) = d.table.get(i) {
        out.push((
            String::from_utf8(e.name.clone().unwrap().into_vec()).unwrap(),
            String::from_utf8(e.value.clone().unwrap().into_vec()).unwrap(),
        ));
        i += 1;
    }
    (out, d.table.size())
}

fn decode_ok(d: &mut Decoder, data: &str) -> Vec<(String, String)> {
    let b = d.decode(&hex(data), LIMITS);
    assert_eq!(b.error, None);
    assert_eq!(b.unknown, 0);
    pairs(&b)
}

#[test]
fn c2_1_literal_with_indexing() {
    let mut d = Decoder::new(4096);
    let got = decode_ok(&mut d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    assert_eq!(got, list(&[("custom-key", "custom-header")]));
    assert_eq!(table(&d), (list(&[("custom-key", "custom-header")]), 55));
}

#[test]
fn c2_2_literal_without_indexing() {
    let mut d = Decoder::new(4096);
    let got = decode_ok(&mut d, "040c 2f73 616d 706c 652f 7061 7468");
    assert_eq!(got, list(&[(":path", "/sample/path")]));
    assert_eq!(table(&d), (vec![], 0));
}

#[test]
fn c2_3_literal_never_indexed() {
    let mut d = Decoder::new(4096);
    let got = decode_ok(&mut d, "1008 7061 7373 776f 7264 0673 6563 7265 74");
    assert_eq!(got, list(&[("password", "secret")]));
    assert_eq!(table(&d), (vec![], 0));
}

#[test]
fn c2_4_indexed() {
    let mut d = Decoder::new(4096);
    assert_eq!(decode_ok(&mut d, "82"), list(&[(":method", "GET")]));
    assert_eq!(table(&d), (vec![], 0));
}

fn requests(blocks: [&str; 3]) {
    let mut d = Decoder::new(4096);
    let first = list(&[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]);
    assert_eq!(decode_ok(&mut d, blocks[0]), first);
    assert_eq!(table(&d), (list(&[(":authority", "www.example.com")]), 57));

    let mut second = first.clone();
    second.push(("cache-control".into(), "no-cache".into()));
    assert_eq!(decode_ok(&mut d, blocks[1]), second);
    assert_eq!(table(&d), (list(&[("cache-control", "no-cache"), (":authority", "www.example.com")]), 110));

    let third = list(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ]);
    assert_eq!(decode_ok(&mut d, blocks[2]), third);
    assert_eq!(
        table(&d),
        (
            list(&[("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")]),
            164
        )
    );
}

#[test]
fn c3_requests_without_huffman() {
    requests([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
}

#[test]
fn c4_requests_with_huffman() {
    requests([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
}

fn responses(blocks: [&str; 3]) {
    let mut d = Decoder::new(4096);
    // SETTINGS_HEADER_TABLE_SIZE of 256, in force from the start.
    d.table.set_setting(256);
    d.table.size_update(256);
    let date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
    let loc = "https://www.example.com";
    let first = list(&[(":status", "302"), ("cache-control", "private"), ("date", date1), ("location", loc)]);
    assert_eq!(decode_ok(&mut d, blocks[0]), first);
    assert_eq!(
        table(&d),
        (list(&[("location", loc), ("date", date1), ("cache-control", "private"), (":status", "302")]), 222)
    );

    let second = list(&[(":status", "307"), ("cache-control", "private"), ("date", date1), ("location", loc)]);
    assert_eq!(decode_ok(&mut d, blocks[1]), second);
    assert_eq!(
        table(&d),
        (list(&[(":status", "307"), ("location", loc), ("date", date1), ("cache-control", "private")]), 222)
    );

    let date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
    let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
    let third = list(&[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", date2),
        ("location", loc),
        ("content-encoding", "gzip"),
        ("set-cookie", cookie),
    ]);
    assert_eq!(decode_ok(&mut d, blocks[2]), third);
    assert_eq!(table(&d), (list(&[("set-cookie", cookie), ("content-encoding", "gzip"), ("date", date2)]), 215));
}

#[test]
fn c5_responses_without_huffman() {
    responses([
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    ]);
}

#[test]
fn c6_responses_with_huffman() {
    responses([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]);
}

#[test]
fn c1_integers() {
    let mut r = Reader { buf: &[0b0000_1010], pos: 0 };
    assert_eq!(r.integer(5), Ok(10));
    let mut r = Reader { buf: &[0b0001_1111, 0b1001_1010, 0b0000_1010], pos: 0 };
    assert_eq!(r.integer(5), Ok(1337));
    let mut r = Reader { buf: &[42], pos: 0 };
    assert_eq!(r.integer(8), Ok(42));
    // Too many continuation bytes.
    let mut r = Reader { buf: &[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], pos: 0 };
    assert_eq!(r.integer(5), Err(HpackError::BadInteger));
    let mut r = Reader { buf: &[0x1f, 0x80], pos: 0 };
    assert_eq!(r.integer(5), Err(HpackError::BadInteger));
}

#[test]
fn a_joined_decoder_recovers_static_and_literal_fields() {
    let mut d = Decoder::joined(1 << 16);
    // C.3.2 seen without C.3.1: index 62 (:authority) is from before the join.
    let b = d.decode(&hex("8286 84be 5808 6e6f 2d63 6163 6865"), LIMITS);
    assert_eq!(b.error, None);
    assert_eq!(b.unknown, 1);
    assert_eq!(b.fields[3], HeaderField { name: None, value: None });
    assert_eq!(b.fields[0].value.as_deref(), Some(&b"GET"[..]));
    assert_eq!(b.fields[4].value.as_deref(), Some(&b"no-cache"[..]));
    // C.3.3: index 63 is now the (unknown) authority again, index 62 the cache-control we saw.
    let b = d.decode(&hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"), LIMITS);
    assert_eq!(b.unknown, 1);
    assert_eq!(b.fields[2].value.as_deref(), Some(&b"/index.html"[..]));
    assert!(!d.in_sync());
}

#[test]
fn errors_lose_the_table_and_keep_what_came_before() {
    let mut d = Decoder::new(4096);
    // :method GET, then index 70 with an empty table: invalid.
    let b = d.decode(&[0x82, 0xc6], LIMITS);
    assert_eq!(b.error, Some(HpackError::BadIndex));
    assert_eq!(b.fields.len(), 1);
    assert!(!d.in_sync());
    // Index 0.
    let mut d = Decoder::new(4096);
    assert_eq!(d.decode(&[0x80], LIMITS).error, Some(HpackError::BadIndex));
    // A string longer than the block.
    let mut d = Decoder::new(4096);
    assert_eq!(d.decode(&[0x04, 0x0c, b'/'], LIMITS).error, Some(HpackError::Truncated));
    // A size update above the setting.
    let mut d = Decoder::new(4096);
    assert_eq!(d.decode(&[0x3f, 0xe1, 0x1f], LIMITS).error, None, "4,096 is allowed");
    assert_eq!(d.decode(&[0x3f, 0xe2, 0x1f], LIMITS).error, Some(HpackError::SizeUpdateOverSetting));
    // After a join the setting is not known: the update is taken as it is.
    let mut d = Decoder::joined(1 << 16);
    assert_eq!(d.decode(&[0x3f, 0xe2, 0x1f], LIMITS).error, None);
}

#[test]
fn a_bomb_is_counted_not_copied() {
    let mut d = Decoder::new(1 << 16);
    d.table.set_setting(1 << 16);
    // Insert one 4,000-byte value, then reference it 1,000 times (one byte each).
    let mut block = vec![0x3f, 0xe1, 0xff, 0x03]; // size update to 65,536
    block.extend_from_slice(&[0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e]); // literal name "x", value len 4,000
    block.extend(std::iter::repeat_n(b'v', 4000));
    block.extend(std::iter::repeat_n(0xbe, 1000));
    let limits = BlockLimits { max_list: 64 * 1024, max_field: 16 * 1024 };
    let b = d.decode(&block, limits);
    assert_eq!(b.error, None);
    // 1,001 fields of 4,033 bytes each were listed; only those within 64 KiB were kept.
    assert_eq!(b.list_size, 1001 * 4033);
    assert_eq!(b.fields.len(), 64 * 1024 / 4033);
    assert_eq!(b.list_dropped as usize, 1001 - b.fields.len());
    assert!(b.is_bomb(block.len()));
    // The table still follows the encoder.
    assert!(d.in_sync());
}

/// hpack's (the Python library's) Huffman encoder, an implementation with its own copy of
/// the code table: every byte value alone, then random strings (tests/h2_fixtures/make.py).
#[test]
fn huffman_decodes_an_independent_encoders_output() {
    let vectors = include_str!("../../../tests/h2_fixtures/huffman.txt");
    let mut n = 0;
    for line in vectors.lines() {
        let (plain, coded) = line.split_once(' ').unwrap();
        let (plain, coded) = (hex(plain), hex(coded));
        let mut out = Vec::new();
        huffman::decode(&coded, plain.len(), &mut out).unwrap_or_else(|e| panic!("{line}: {e:?}"));
        assert_eq!(out, plain, "{line}");
        n += 1;
    }
    assert_eq!(n, 456);
}

#[test]
fn static_table_matches_an_independent_transcription() {
    let theirs: Vec<(&str, &str)> = include_str!("../../../tests/h2_fixtures/static_table.txt")
        .lines()
        .map(|l| l.split_once('\t').unwrap())
        .collect();
    assert_eq!(theirs.len(), 61);
    assert_eq!(theirs, static_table::STATIC.to_vec());
}

#[test]
fn a_name_taken_from_an_unknown_entry_stays_unknown_until_evicted() {
    let mut d = Decoder::joined(1 << 16);
    // Literal with incremental indexing, name from index 62 (before the join), value "v1".
    let b = d.decode(&[0x7e, 0x02, b'v', b'1'], LIMITS);
    assert_eq!(b.fields, vec![HeaderField { name: None, value: Some(b"v1".to_vec()) }]);
    // Fill the table with known entries (100 bytes each): the unknown-named one ages out.
    let mut synced = None;
    for i in 0..60 {
        let mut block = vec![0x40, 0x03, b'k', b'e', b'y', 0x41];
        block.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, 65));
        let b = d.decode(&block, LIMITS);
        assert_eq!(b.error, None);
        if b.resynced {
            synced = Some(i);
            break;
        }
    }
    // 4,096 bytes hold 40 entries of 100 (plus the 34-byte partial one while it stays):
    // the 41st known insertion evicts it and leaves no room for anything older.
    assert_eq!(synced, Some(40));
    assert!(d.in_sync());
}
