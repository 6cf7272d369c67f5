#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fs::OpenOptions;
use std::path::Path;

use super::*;
use super::super::message::Topic;

fn cfg(dir: &Path, max_bytes: u64, policy: FullPolicy) -> SpoolConfig {
    SpoolConfig { dir: dir.to_path_buf(), max_bytes, segment_bytes: 64 << 10, full_policy: policy }
}

fn rec(i: u32) -> SpoolRecord {
    SpoolRecord {
        topic: if i % 2 == 0 { Topic::Anomalies } else { Topic::Health },
        created_ms: 1_700_000_000_000 + i64::from(i),
        key: format!("key-{}", i % 7).into_bytes(),
        // About 1 KiB, so 64 KiB segments hold about 60 records.
        payload: format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(1000)).into_bytes(),
    }
}

fn index_of(r: &SpoolRecord) -> u32 {
    let text = String::from_utf8(r.payload.clone()).unwrap();
    let start = text.find("\"n\":").unwrap() + 4;
    let end = text[start..].find(',').unwrap() + start;
    text[start..end].parse().unwrap()
}

/// Reads everything readable, committing each record.
fn drain(s: &mut Spool) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some((r, pos)) = s.read_next().unwrap() {
        out.push(index_of(&r));
        assert!(s.commit(pos));
    }
    out
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "seg")).collect();
    v.sort();
    v
}

#[test]
fn records_come_back_in_order_across_segments_and_confirmed_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    for i in 0..300 {
        assert_eq!(s.append(&rec(i)).unwrap(), Appended::Stored { dropped_oldest: 0 });
    }
    let files = segment_files(dir.path()).len();
    assert!(files >= 4, "300 KiB in 64 KiB segments, got {files} files");
    assert_eq!(s.pending_records(), 300);
    let expected_bytes = FILE_HEADER * files as u64 + (0..300).map(|i| rec(i).framed_len() as u64).sum::<u64>();
    assert_eq!(s.bytes(), expected_bytes);
    assert_eq!(drain(&mut s), (0..300).collect::<Vec<_>>());
    assert!(s.is_empty());
    assert_eq!(s.bytes(), 0);
    assert!(segment_files(dir.path()).is_empty());
    assert_eq!(s.stats().spooled, 300);
}

#[test]
fn a_new_spool_on_the_same_directory_replays_what_was_not_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
        for i in 0..150 {
            s.append(&rec(i)).unwrap();
        }
        // Confirm the first 70, read (but do not confirm) ten more.
        for _ in 0..70 {
            let (_, pos) = s.read_next().unwrap().unwrap();
            s.commit(pos);
        }
        for _ in 0..10 {
            s.read_next().unwrap().unwrap();
        }
        s.checkpoint().unwrap();
    }
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    assert_eq!(s.pending_records(), 80);
    assert_eq!(drain(&mut s), (70..150).collect::<Vec<_>>());
    // And it goes on appending after a restart.
    s.append(&rec(1000)).unwrap();
    assert_eq!(drain(&mut s), vec![1000]);
}

#[test]
fn confirmations_after_the_last_checkpoint_are_replayed_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
        for i in 0..20 {
            s.append(&rec(i)).unwrap();
        }
        for _ in 0..5 {
            let (_, pos) = s.read_next().unwrap().unwrap();
            s.commit(pos);
        }
        s.checkpoint().unwrap();
        for _ in 0..5 {
            let (_, pos) = s.read_next().unwrap().unwrap();
            s.commit(pos);
        }
        // No checkpoint: as if killed here.
    }
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    assert_eq!(drain(&mut s), (5..20).collect::<Vec<_>>());
}

#[test]
fn a_torn_tail_after_a_crash_is_skipped_counted_and_appending_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
        for i in 0..10 {
            s.append(&rec(i)).unwrap();
        }
    }
    // kill -9 in the middle of the 10th record's write: its last 300 bytes never arrived.
    let files = segment_files(dir.path());
    let last = files.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    OpenOptions::new().write(true).open(last).unwrap().set_len(len - 300).unwrap();

    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    let st = s.stats();
    assert_eq!(st.corrupt_records, 1);
    assert_eq!(st.corrupt_bytes, rec(9).framed_len() as u64 - 300);
    assert_eq!(st.records, 9);
    s.append(&rec(10)).unwrap();
    assert_eq!(drain(&mut s), vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 10]);
}

#[test]
fn a_damaged_record_in_the_middle_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
        for i in 0..5 {
            s.append(&rec(i)).unwrap();
        }
    }
    let file = segment_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&file).unwrap();
    let third = FILE_HEADER as usize + rec(0).framed_len() + rec(1).framed_len();
    bytes[third + 40] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    assert_eq!(s.stats().corrupt_records, 1);
    assert_eq!(drain(&mut s), vec![0, 1, 3, 4]);
}

#[test]
fn drop_oldest_keeps_the_newest_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let max = 256 << 10;
    let mut s = Spool::open(&cfg(dir.path(), max, FullPolicy::DropOldest)).unwrap();
    let mut dropped = 0;
    for i in 0..1000 {
        match s.append(&rec(i)).unwrap() {
            Appended::Stored { dropped_oldest } => dropped += dropped_oldest,
            Appended::DroppedNewest => panic!("drop-oldest refused a record"),
        }
        assert!(s.bytes() <= max, "{} bytes on disk after record {i}", s.bytes());
    }
    let left = drain(&mut s);
    assert_eq!(left.len() as u64 + dropped, 1000);
    assert_eq!(s.stats().dropped_full, dropped);
    assert!(dropped > 0);
    // What is left is the newest run, contiguous and ending with the last record.
    assert_eq!(left, (1000 - left.len() as u32..1000).collect::<Vec<_>>());
}

#[test]
fn drop_newest_keeps_the_oldest_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let max = 256 << 10;
    let mut s = Spool::open(&cfg(dir.path(), max, FullPolicy::DropNewest)).unwrap();
    let mut refused = 0;
    for i in 0..1000 {
        if s.append(&rec(i)).unwrap() == Appended::DroppedNewest {
            refused += 1;
        }
        assert!(s.bytes() <= max);
    }
    assert_eq!(s.stats().dropped_full, refused);
    let left = drain(&mut s);
    assert_eq!(left, (0..left.len() as u32).collect::<Vec<_>>());
    assert_eq!(left.len() as u64 + refused, 1000);
    // Once confirmed, there is room again.
    assert_eq!(s.append(&rec(5000)).unwrap(), Appended::Stored { dropped_oldest: 0 });
}

#[test]
fn drop_oldest_while_the_head_is_being_read_moves_the_reader_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(&cfg(dir.path(), 256 << 10, FullPolicy::DropOldest)).unwrap();
    for i in 0..100 {
        s.append(&rec(i)).unwrap();
    }
    // Hand out three records of the head segment, unconfirmed.
    let mut handed = Vec::new();
    for _ in 0..3 {
        handed.push(s.read_next().unwrap().unwrap().1);
    }
    for i in 100..400 {
        s.append(&rec(i)).unwrap();
    }
    // The head segment is gone: its late confirmations are ignored.
    assert!(!s.has_segment(handed[0].segment));
    assert!(!s.commit(handed[0]));
    let rest = drain(&mut s);
    assert_eq!(*rest.last().unwrap(), 399);
    assert!(rest.windows(2).all(|w| w[1] == w[0] + 1), "not contiguous: {rest:?}");
}

#[test]
fn rewind_hands_out_unconfirmed_records_again_and_mark_reset_undoes_one_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    for i in 0..5 {
        s.append(&rec(i)).unwrap();
    }
    let (_, p0) = s.read_next().unwrap().unwrap();
    s.commit(p0);
    s.read_next().unwrap().unwrap();
    s.read_next().unwrap().unwrap();
    s.rewind();
    let mark = s.mark();
    let (r, _) = s.read_next().unwrap().unwrap();
    assert_eq!(index_of(&r), 1);
    s.reset(mark);
    assert_eq!(drain(&mut s), vec![1, 2, 3, 4]);
}

#[test]
fn prepended_records_come_first_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
        for i in 100..110 {
            s.append(&rec(i)).unwrap();
        }
        // 80 failed messages coming back, older than the spooled ones (more than a segment).
        let back: Vec<_> = (0..80).map(rec).collect();
        s.prepend(&back).unwrap();
        assert_eq!(s.pending_records(), 90);
        // Confirm 30 of them, then crash after a checkpoint.
        for _ in 0..30 {
            let (_, pos) = s.read_next().unwrap().unwrap();
            s.commit(pos);
        }
        s.checkpoint().unwrap();
    }
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    let expected: Vec<u32> = (30..80).chain(100..110).collect();
    assert_eq!(drain(&mut s), expected);
}

#[test]
fn prepend_into_an_empty_spool_is_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    s.prepend(&[rec(1), rec(2)]).unwrap();
    s.append(&rec(3)).unwrap();
    assert_eq!(drain(&mut s), vec![1, 2, 3]);
}

#[test]
fn a_second_spool_on_the_same_directory_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    let e = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("another apitap process"), "{text}");
    assert!(text.contains("kafka.spool.dir"), "{text}");
}

#[test]
fn a_damaged_cursor_replays_from_the_start_rather_than_losing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
        for i in 0..6 {
            s.append(&rec(i)).unwrap();
        }
        for _ in 0..3 {
            let (_, pos) = s.read_next().unwrap().unwrap();
            s.commit(pos);
        }
        s.checkpoint().unwrap();
    }
    std::fs::write(dir.path().join("cursor"), b"garbage").unwrap();
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    assert_eq!(drain(&mut s), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_record_larger_than_a_segment_is_refused_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(&cfg(dir.path(), 1 << 30, FullPolicy::DropOldest)).unwrap();
    let big = SpoolRecord { topic: Topic::Inventory, created_ms: 0, key: vec![], payload: vec![0; 70 << 10] };
    let e = s.append(&big).unwrap_err();
    assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(s.pending_records(), 0);
    assert!(segment_files(dir.path()).is_empty());
}

#[test]
fn spool_files_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("spool");
    let mut s = Spool::open(&cfg(&dir, 1 << 30, FullPolicy::DropOldest)).unwrap();
    s.append(&rec(1)).unwrap();
    s.read_next().unwrap();
    s.checkpoint().unwrap();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
    }
}
