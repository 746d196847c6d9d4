//! The live-logs pipeline, measured (not asserted): ingest rate with a regex filter through the real path from a
//! pipe (runner task -> bounded channel -> `update`, on the multi-thread runtime `deckhand run` uses), time from
//! a line written to it drawn,
//! resident memory with 1,000,000 lines buffered, frame time at 200x50 with 1,000,000 lines and a filter, and
//! bytes written to the terminal per second during a flood and while idle. Run: `scripts/logs-bench.sh`
//! (`scripts/logs-bench.sh ingest split` runs only those).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use deckhand::app::{Action, State, update};
use deckhand::logs::line::make_line;
use deckhand::plan::{LogInput, Resolved};
use deckhand::runner::{RunnerEvent, SourceState, logs::run_source};
use ratatui::Terminal;
use ratatui::backend::{CrosstermBackend, TestBackend};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LINES: usize = 3_000_000;
const BUFFERED: usize = 1_000_000;
const FILTER: &str = "user=4[0-9]+ ";

const PLAN: &str = r#"
[project]
name = "bench"
environment = "bench"

[[phase]]
name = "p"
steps = [{ run = "true" }]

[[logs]]
name = "api"
command = "true"
"#;

/// A 150-byte line (with its newline) shaped like a real access log.
fn line(i: usize) -> String {
    let s = format!(
        "2024-05-01T12:00:00.{:06}Z INFO http request method=GET path=/api/v1/orders/{:08} user={} status=200 dur=12ms",
        i % 1_000_000,
        i,
        i % 97
    );
    format!("{s:<149}")
}

fn state() -> State {
    let env = |_: &str| None;
    let plan = deckhand::plan::parse(PLAN, Path::new("bench.toml"), &env).expect("plan");
    State::new(plan, Instant::now(), 200, 50)
}

fn key(state: &mut State, c: KeyCode) {
    update(
        state,
        Action::Key(KeyEvent::new(c, KeyModifiers::NONE).into()),
        Instant::now(),
    );
}

fn set_filter(state: &mut State, re: &str) {
    key(state, KeyCode::Char('3'));
    key(state, KeyCode::Char('/'));
    for c in re.chars() {
        key(state, KeyCode::Char(c));
    }
    key(state, KeyCode::Enter);
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Ingest: a file of LINES lines is `cat` into the real command source; one thread runs the runner and update.
fn ingest(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flood.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("file"));
    for i in 0..LINES {
        writeln!(f, "{}", line(i)).expect("write");
    }
    f.flush().expect("flush");
    drop(f);
    let mut st = state();
    set_filter(&mut st, FILTER);
    let src = deckhand::plan::LogSource {
        command_env: Default::default(),
        name: "api".into(),
        input: LogInput::Command(Resolved::literal(&format!("cat {}", path.display()))),
        error: None,
        quiet_after: Duration::from_secs(60),
        restart: false,
        error_rate: 0.05,
        window: Duration::from_secs(60),
    };
    let (received, secs) = rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(256);
        let started = Instant::now();
        tokio::spawn(run_source(
            0,
            src,
            tx,
            CancellationToken::new(),
            Default::default(),
        ));
        let mut batch = Vec::with_capacity(128);
        let mut received = 0usize;
        loop {
            if rx.recv_many(&mut batch, 128).await == 0 {
                break;
            }
            let mut done = false;
            for ev in batch.drain(..) {
                match &ev {
                    RunnerEvent::LogLines { lines, .. } => received += lines.len(),
                    RunnerEvent::LogSource {
                        state: SourceState::Stopped { .. },
                        ..
                    } => done = true,
                    _ => {}
                }
                update(&mut st, Action::Runner(ev), Instant::now());
            }
            if done {
                break;
            }
        }
        (received, started.elapsed().as_secs_f64())
    });
    let shown = st.logview.visible_len(&st.logs);
    println!(
        "ingest: {received} lines of 150 B from a pipe, filter /{FILTER}/ ({shown} matching): {secs:.2} s = {:.2} M lines/s ({:.0} MB/s); buffer {} kept, {} dropped",
        received as f64 / secs / 1e6,
        received as f64 * 150.0 / secs / 1e6,
        st.logs.len(),
        st.logs.dropped()
    );
}

/// Latency: lines written with their wall-clock time by a shell loop; each batch is received, updated and drawn
/// at 200x50 (TestBackend) before the time is taken.
fn latency(rt: &tokio::runtime::Runtime) {
    let mut st = state();
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("term");
    let cmd = "for i in $(seq 1 200); do date +%s%N; sleep 0.005; done";
    let src = deckhand::plan::LogSource {
        command_env: Default::default(),
        name: "api".into(),
        input: LogInput::Command(Resolved::literal(cmd)),
        error: None,
        quiet_after: Duration::from_secs(60),
        restart: false,
        error_rate: 0.05,
        window: Duration::from_secs(60),
    };
    let mut samples = rt.block_on(async {
        let (tx, mut rx) = mpsc::channel(256);
        tokio::spawn(run_source(
            0,
            src,
            tx,
            CancellationToken::new(),
            Default::default(),
        ));
        let mut samples = Vec::new();
        while let Some(ev) = rx.recv().await {
            let stamps: Vec<u128> = match &ev {
                RunnerEvent::LogLines { lines, .. } => {
                    lines.iter().filter_map(|l| l.text.parse().ok()).collect()
                }
                RunnerEvent::LogSource {
                    state: SourceState::Stopped { .. },
                    ..
                } => break,
                _ => Vec::new(),
            };
            update(&mut st, Action::Runner(ev), Instant::now());
            term.draw(|f| deckhand::views::render(f, &st))
                .expect("draw");
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            samples.extend(stamps.iter().map(|t| now.saturating_sub(*t) as f64 / 1e6));
        }
        samples
    });
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    println!(
        "latency line written -> drawn (200x50, excl. the 33 ms frame cap): median {:.2} ms, p99 {:.2} ms over {} lines",
        pct(0.5),
        pct(0.99),
        samples.len()
    );
}

/// Counts bytes written to the "terminal".
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len(), Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Memory with 1,000,000 lines, frame time with a filter, and terminal bytes during a flood and idle.
fn memory_and_frames() {
    let before = rss_kib();
    let mut st = state();
    let now = Instant::now();
    for chunk in (0..BUFFERED).collect::<Vec<_>>().chunks(1000) {
        let lines = chunk
            .iter()
            .map(|i| make_line(line(*i).as_bytes(), false, None))
            .collect();
        update(
            &mut st,
            Action::Runner(RunnerEvent::LogLines { source: 0, lines }),
            now,
        );
    }
    let after = rss_kib();
    println!(
        "memory: {} lines of 150 B buffered: RSS +{:.0} MiB ({:.0} B/line)",
        st.logs.len(),
        (after - before) as f64 / 1024.0,
        (after - before) as f64 * 1024.0 / BUFFERED as f64
    );
    set_filter(&mut st, FILTER);
    while st.logview.scan_progress(&st.logs).is_some() {
        update(&mut st, Action::Tick, Instant::now());
    }
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("term");
    let frames = 200;
    let t = Instant::now();
    for i in 0..frames {
        // Alternate the scroll position so each frame draws different lines.
        st.log_offset = i % 2 * 40;
        term.draw(|f| deckhand::views::render(f, &st))
            .expect("draw");
    }
    println!(
        "frame: 200x50, {} lines, filter /{FILTER}/ ({} matching): {:.3} ms per frame",
        st.logs.len(),
        st.logview.visible_len(&st.logs),
        t.elapsed().as_secs_f64() * 1e3 / frames as f64
    );
    st.log_offset = 0;
    // A flood at the 30 fps cap: each frame follows the newest matching lines.
    let counter = Counter::default();
    let mut term = Terminal::new(CrosstermBackend::new(counter.clone())).expect("term");
    let _ = term.resize(ratatui::layout::Rect::new(0, 0, 200, 50));
    term.draw(|f| deckhand::views::render(f, &st))
        .expect("draw");
    counter.0.store(0, Ordering::Relaxed);
    let mut next = BUFFERED;
    for _ in 0..30 {
        let lines = (next..next + 100_000 / 30)
            .map(|i| make_line(line(i).as_bytes(), false, None))
            .collect();
        next += 100_000 / 30;
        update(
            &mut st,
            Action::Runner(RunnerEvent::LogLines { source: 0, lines }),
            Instant::now(),
        );
        term.draw(|f| deckhand::views::render(f, &st))
            .expect("draw");
    }
    let flood = counter.0.swap(0, Ordering::Relaxed);
    // Idle: the event loop draws only when the state is dirty; a redraw with nothing changed costs the diff.
    term.draw(|f| deckhand::views::render(f, &st))
        .expect("draw");
    let idle_redraw = counter.0.swap(0, Ordering::Relaxed);
    println!(
        "terminal bytes: flood (100k lines/s, 30 fps) {:.1} KB/s; idle: no frame is drawn (0 B/s); a redraw with nothing changed writes {idle_redraw} B",
        flood as f64 / 1e3
    );
}

/// The runner's own share: splitting, decoding, sanitizing and level detection of 150-byte lines.
fn split_decode() {
    let mut data = Vec::new();
    for i in 0..BUFFERED {
        data.extend_from_slice(line(i).as_bytes());
        data.push(b'\n');
    }
    let t = Instant::now();
    let mut splitter = deckhand::logs::split::Splitter::new(deckhand::logs::MAX_LINE_BYTES);
    let mut n = 0usize;
    for chunk in data.chunks(deckhand::logs::READ_CHUNK_BYTES) {
        splitter.push(chunk, &mut |raw: &[u8], t| {
            n += make_line(raw, t, None).text.len();
        });
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "split+decode+level: {:.2} M lines/s ({n} bytes)",
        BUFFERED as f64 / secs / 1e6
    );
}

/// The runner's share as it runs now: a read's lines split and made into one batch (safe text, level words,
/// the error regex over the batch), 64 KiB at a time.
fn pack() {
    let mut data = Vec::new();
    for i in 0..BUFFERED {
        data.extend_from_slice(line(i).as_bytes());
        data.push(b'\n');
    }
    let error = deckhand::logs::pattern::LineRegex::new("ERROR|FATAL");
    let masker = deckhand::secrets::Masker::default();
    let how = deckhand::logs::pack::Finish {
        error: error.as_ref(),
        masker: &masker,
        stream: deckhand::runner::Stream::Stdout,
    };
    let mut best = f64::MAX;
    let mut n = 0usize;
    for _ in 0..5 {
        let t = Instant::now();
        let mut splitter = deckhand::logs::split::Splitter::new(deckhand::logs::MAX_LINE_BYTES);
        let mut packer = deckhand::logs::pack::Packer::default();
        n = 0;
        // As the command runner reads: into the batch in place, a begun line carried to the next read.
        for chunk in data.chunks(deckhand::logs::READ_CHUNK_BYTES) {
            if splitter.idle() {
                let (buf, from) = packer.read_buffer(chunk.len());
                buf.extend_from_slice(chunk);
                packer.took_read(from, &mut splitter);
            } else {
                splitter.push(chunk, &mut packer);
            }
            n += packer.finish(&how).len();
            packer.carry(&mut splitter);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "split+pack (batch of a 64 KiB read in place, error regex): {:.2} M lines/s, best of 5 ({n} lines)",
        BUFFERED as f64 / best / 1e6
    );
}

fn main() {
    // The runtime `deckhand run` uses (issue 17: a current-thread runtime flattered the figures — no wake-ups or
    // frees across threads).
    let rt = deckhand::console::runtime().expect("runtime");
    // `scripts/logs-bench.sh ingest split` runs only the named measurements (all of them without a name).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| name.starts_with(o.as_str()));
    if run("memory") || run("frames") {
        memory_and_frames();
    }
    if run("split") {
        split_decode();
    }
    if run("pack") {
        pack();
    }
    if run("ingest") {
        ingest(&rt);
    }
    if run("latency") {
        latency(&rt);
    }
}
