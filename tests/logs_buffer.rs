#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! The packed log ring (issue 17, must-work 2): exact line and byte accounting across chunk boundaries, eviction
//! that frees whole chunks, a 10 MB line, invalid UTF-8 made safe before it is stored, the source index and the
//! bounds that count what they drop.

use std::sync::Arc;

use deckhand::app::{CHUNK_BYTES, CHUNK_LINES, LogBuffer, LogLine};
use deckhand::runner::{Level, Stream};

fn line(source: &Arc<str>, origin: Option<usize>, text: String) -> LogLine {
    LogLine {
        source: source.clone(),
        stream: Some(Stream::Stdout),
        text,
        truncated: false,
        level: Level::Other,
        origin,
    }
}

/// Line `i`'s text: lengths vary so chunk ends fall anywhere.
fn text(i: u64) -> String {
    format!("{i:08} {}", "x".repeat((i % 97) as usize))
}

#[test]
fn counts_are_exact_across_chunk_boundaries_and_whole_chunks_are_freed() {
    let api: Arc<str> = Arc::from("api");
    let max_lines = 3 * CHUNK_LINES + 123;
    let mut b = LogBuffer::with_limits(max_lines, usize::MAX);
    let total = 10 * CHUNK_LINES as u64 + 7;
    let mut bytes_of = std::collections::VecDeque::new();
    for i in 0..total {
        let t = text(i);
        bytes_of.push_back(t.len());
        if bytes_of.len() > max_lines {
            bytes_of.pop_front();
        }
        b.push(line(&api, Some(0), t));
        assert_eq!(b.len() as u64 + b.dropped(), i + 1);
    }
    assert_eq!(b.len(), max_lines);
    assert_eq!(b.dropped(), total - max_lines as u64);
    assert_eq!(b.bytes(), bytes_of.iter().sum::<usize>());
    // Only the chunks that still hold a kept line stay allocated.
    let needed = max_lines.div_ceil(CHUNK_LINES) + 1;
    assert!(
        b.chunks() <= needed,
        "{} chunks for {max_lines} lines",
        b.chunks()
    );
    // Every kept line reads back by sequence number and by position, in order, across chunk ends.
    for (pos, seq) in (b.first_seq()..b.end_seq()).enumerate() {
        let want = text(seq);
        assert_eq!(b.get_seq(seq).unwrap().text, want);
        assert_eq!(b.get(pos).unwrap().text, want);
    }
    let ranged: Vec<String> = b
        .range(CHUNK_LINES - 5, CHUNK_LINES + 5)
        .map(|l| l.text.to_string())
        .collect();
    let want: Vec<String> = (0..10)
        .map(|k| text(b.first_seq() + (CHUNK_LINES - 5 + k) as u64))
        .collect();
    assert_eq!(ranged, want);
    assert!(b.get_seq(b.first_seq() - 1).is_none());
    assert!(b.get_seq(b.end_seq()).is_none());
}

#[test]
fn the_byte_bound_evicts_exactly_and_chunks_follow() {
    let t: Arc<str> = Arc::from("t");
    // Lines of 1000 bytes: a chunk holds about CHUNK_BYTES of them.
    let max_bytes = 5 * CHUNK_BYTES + 500;
    let mut b = LogBuffer::with_limits(usize::MAX, max_bytes);
    let n = 20 * CHUNK_BYTES / 1000;
    for i in 0..n {
        b.push(line(&t, None, format!("{i:0>1000}")));
    }
    assert_eq!(b.len(), max_bytes / 1000);
    assert_eq!(b.bytes(), b.len() * 1000);
    assert_eq!(b.dropped() as usize, n - b.len());
    assert!(b.chunks() <= 7, "{} chunks", b.chunks());
}

#[test]
fn a_ten_megabyte_line_gets_a_chunk_of_its_own_and_goes_whole() {
    let t: Arc<str> = Arc::from("t");
    let mut b = LogBuffer::with_limits(1_000, 12 * 1024 * 1024);
    b.push(line(&t, None, "before".into()));
    let big = "y".repeat(10 * 1024 * 1024);
    b.push(line(&t, None, big.clone()));
    b.push(line(&t, None, "after".into()));
    assert_eq!(b.len(), 3);
    assert_eq!(b.get(1).unwrap().text.len(), big.len());
    assert_eq!(b.get(2).unwrap().text, "after");
    // Another one does not fit beside it: the oldest lines go until it does, counted.
    b.push(line(&t, None, big));
    assert_eq!(b.len(), 2, "the first big line and the one before it went");
    assert_eq!(b.dropped(), 2);
    assert_eq!(b.get(0).unwrap().text, "after");
    assert_eq!(b.bytes(), 5 + 10 * 1024 * 1024);
}

#[test]
fn invalid_utf8_is_made_safe_before_it_is_stored_and_read_back_as_is() {
    let raw = b"caf\xe9 \xff\x1b]0;pwned\x07 ok";
    let made = deckhand::logs::line::make_line(raw, false, None);
    let t: Arc<str> = Arc::from("t");
    let mut b = LogBuffer::default();
    b.push(line(&t, Some(2), made.text.clone()));
    let back = b.get(0).unwrap();
    assert_eq!(back.text, made.text);
    assert!(back.text.contains('\u{fffd}'));
    assert!(!back.text.contains('\x1b') && !back.text.contains('\x07'));
    assert_eq!(b.bytes(), made.text.len());
}

#[test]
fn sources_are_an_index_not_a_tag_per_line() {
    let mut b = LogBuffer::default();
    let names: Vec<Arc<str>> = ["api", "worker", "p1.1"]
        .iter()
        .map(|n| Arc::from(*n))
        .collect();
    for i in 0..30_000u64 {
        let k = (i % 3) as usize;
        // A new Arc each time (as a re-created tag would be): the table still holds one entry per source.
        let name: Arc<str> = Arc::from(&*names[k]);
        let origin = (k < 2).then_some(k);
        b.push(LogLine {
            source: name,
            stream: if k == 2 {
                Some(Stream::Stderr)
            } else {
                Some(Stream::Stdout)
            },
            text: format!("{i}"),
            truncated: i % 5 == 0,
            level: if i % 7 == 0 {
                Level::Error
            } else {
                Level::Info
            },
            origin,
        });
    }
    for seq in [0u64, 1, 2, 29_999, 12_345] {
        let l = b.get_seq(seq).unwrap();
        let k = (seq % 3) as usize;
        assert_eq!(&**l.source, &*names[k]);
        assert_eq!(l.origin, (k < 2).then_some(k));
        assert_eq!(l.stream == Some(Stream::Stderr), k == 2);
        assert_eq!(l.truncated, seq % 5 == 0);
        assert_eq!(l.level == Level::Error, seq % 7 == 0);
        assert_eq!(l.text, seq.to_string());
    }
}

#[test]
fn error_lines_are_counted_exactly_as_they_come_and_go() {
    let api: Arc<str> = Arc::from("api");
    let max_lines = CHUNK_LINES + 10;
    let mut b = LogBuffer::with_limits(max_lines, usize::MAX);
    let mut levels = std::collections::VecDeque::new();
    for i in 0..(3 * CHUNK_LINES as u64) {
        let level = if i % 7 == 0 {
            Level::Error
        } else {
            Level::Info
        };
        levels.push_back(level);
        if levels.len() > max_lines {
            levels.pop_front();
        }
        let mut l = line(&api, Some(0), text(i));
        l.level = level;
        b.push(l);
        if i % 1_000 == 0 {
            let want = levels.iter().filter(|l| **l == Level::Error).count();
            assert_eq!(b.errors(), want, "after line {i}");
        }
    }
    let want = levels.iter().filter(|l| **l == Level::Error).count();
    assert_eq!(b.errors(), want);
    let counted = b
        .range(0, b.len())
        .filter(|l| l.level == Level::Error)
        .count();
    assert_eq!(b.errors(), counted);
}

#[test]
fn when_each_line_arrived_is_kept_per_run_of_lines() {
    let api: Arc<str> = Arc::from("api");
    let mut b = LogBuffer::with_limits(2 * CHUNK_LINES, usize::MAX);
    // A flood in second 5 that crosses a chunk end, then one line a second.
    b.set_clock(5);
    for i in 0..(CHUNK_LINES as u64 + 10) {
        b.push(line(&api, None, text(i)));
    }
    for s in 6..20u32 {
        b.set_clock(s);
        b.push(line(&api, None, format!("second {s}")));
    }
    assert_eq!(b.arrived(0), Some(5));
    assert_eq!(b.arrived(CHUNK_LINES as u64 + 9), Some(5));
    let first_slow = CHUNK_LINES as u64 + 10;
    for (k, s) in (6..20u32).enumerate() {
        assert_eq!(b.arrived(first_slow + k as u64), Some(s));
    }
    assert_eq!(b.arrived(b.end_seq()), None);
    // Past the bound the oldest go, and with them their times.
    for i in 0..(2 * CHUNK_LINES as u64) {
        b.set_clock(100);
        b.push(line(&api, None, text(i)));
    }
    assert_eq!(b.arrived(0), None);
    assert_eq!(b.arrived(b.end_seq() - 1), Some(100));
}

/// Line `i` of a runner's batch: levels, streams and truncation vary with `i`.
fn batch_line(i: u64) -> (String, Level, bool, Stream) {
    let level = match i % 7 {
        0 => Level::Error,
        1 => Level::Warn,
        2 => Level::Other,
        _ => Level::Info,
    };
    let stream = if i.is_multiple_of(5) {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    (text(i), level, i.is_multiple_of(11), stream)
}

/// A runner's batch goes in a run at a time (one copy of its text per chunk it spans); everything reads back and
/// counts exactly as if its lines had been pushed one by one: the same chunks, across chunk ends, under the line
/// bound and under the byte bound, batches of 1 to 5,000 lines.
#[test]
fn batches_go_in_as_if_line_by_line() {
    use deckhand::logs::batch::LineBatch;
    let api: Arc<str> = Arc::from("api");
    let bounds = [
        (3 * CHUNK_LINES + 123, usize::MAX),
        (usize::MAX, 2 * CHUNK_BYTES + 500),
        (777, usize::MAX),
    ];
    for (max_lines, max_bytes) in bounds {
        let mut by_batch = LogBuffer::with_limits(max_lines, max_bytes);
        let mut by_line = LogBuffer::with_limits(max_lines, max_bytes);
        let tag = by_batch.tag(&api, Some(0));
        let (mut seq, mut size) = (0u64, 1u64);
        while seq < 6 * CHUNK_LINES as u64 {
            let mut batch = LineBatch::default();
            for i in seq..seq + size {
                let (t, level, truncated, stream) = batch_line(i);
                batch.push(&t, level, truncated, stream);
                by_line.push(LogLine {
                    source: api.clone(),
                    stream: Some(stream),
                    text: t,
                    truncated,
                    level,
                    origin: Some(0),
                });
            }
            by_batch.push_batch(tag, &batch);
            assert_eq!(by_batch.len(), by_line.len(), "after line {seq}");
            assert_eq!(by_batch.errors(), by_line.errors(), "after line {seq}");
            seq += size;
            size = (size * 7 + 3) % 5_000 + 1;
        }
        assert_eq!(by_batch.dropped(), by_line.dropped());
        assert_eq!(by_batch.bytes(), by_line.bytes());
        assert_eq!(by_batch.chunks(), by_line.chunks());
        assert!(by_batch.dropped() > 0, "the bound was reached");
        for s in by_batch.first_seq()..by_batch.end_seq() {
            assert_eq!(by_batch.get_seq(s), by_line.get_seq(s), "line {s}");
        }
        let counted = by_batch
            .range(0, by_batch.len())
            .filter(|l| l.level == Level::Error)
            .count();
        assert_eq!(by_batch.errors(), counted);
    }
}

/// A 10 MB line in the middle of a batch gets a chunk of its own; the lines after it start the next one.
#[test]
fn a_ten_megabyte_line_in_a_batch_gets_a_chunk_of_its_own() {
    use deckhand::logs::batch::LineBatch;
    let t: Arc<str> = Arc::from("t");
    let mut b = LogBuffer::with_limits(1_000, 12 * 1024 * 1024);
    let tag = b.tag(&t, Some(0));
    let big = "y".repeat(10 * 1024 * 1024);
    let mut batch = LineBatch::default();
    for text in ["before", &big, "after"] {
        batch.push(text, Level::Info, false, Stream::Stdout);
    }
    b.push_batch(tag, &batch);
    assert_eq!((b.len(), b.chunks()), (3, 3));
    assert_eq!(b.get(1).unwrap().text.len(), big.len());
    assert_eq!(b.get(2).unwrap().text, "after");
    assert_eq!(b.bytes(), 6 + big.len() + 5);
    // A second one is past the byte bound beside the first: the oldest go until it fits, counted.
    b.push_batch(tag, &batch);
    assert_eq!(b.dropped(), 2);
    let kept: Vec<usize> = b.range(0, 10).map(|l| l.text.len()).collect();
    assert_eq!(kept, [5, 6, big.len(), 5]);
    assert_eq!(b.bytes(), 16 + big.len());
}

/// Raw bytes that are not UTF-8, with escapes, go through a runner's packer into a batch and the ring: stored as
/// made safe, read back as such.
#[test]
fn invalid_utf8_in_a_batch_is_stored_safe() {
    use deckhand::logs::pack::{Finish, Packer};
    use deckhand::logs::split::Splitter;
    let raw: &[u8] = b"ok\ncaf\xe9 \xff\x1b]0;pwned\x07 done\n\xc3\x28 next\n";
    let masker = deckhand::secrets::Masker::default();
    let mut packer = Packer::default();
    Splitter::new(1024).push(raw, &mut packer);
    let batch = packer.finish(&Finish {
        error: None,
        masker: &masker,
        stream: Stream::Stdout,
    });
    let t: Arc<str> = Arc::from("t");
    let mut b = LogBuffer::default();
    let tag = b.tag(&t, Some(0));
    b.push_batch(tag, &batch);
    assert_eq!(b.len(), 3);
    for (i, want) in raw.split(|c| *c == b'\n').take(3).enumerate() {
        let made = deckhand::logs::line::make_line(want, false, None);
        assert_eq!(b.get(i).unwrap().text, made.text);
        assert!(!made.text.contains('\x1b') && !made.text.contains('\x07'));
    }
    assert!(b.get(1).unwrap().text.contains('\u{fffd}'));
    let bytes: usize = (0..3).map(|i| b.get(i).unwrap().text.len()).sum();
    assert_eq!(b.bytes(), bytes);
}
