//! Driving the real `deckhand` binary inside a real pseudo-terminal: a vt100 emulator reads what it draws,
//! keys are written to the pty, and the pty's termios tells whether raw mode was given back.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::termios::{LocalFlags, tcgetattr};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// How long to wait for something to appear before failing (a hang guard, not a performance bound).
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

pub struct PtyApp {
    pub screen: Arc<Mutex<vt100::Parser>>,
    pub bytes: Arc<AtomicUsize>,
    /// Everything deckhand wrote to the terminal, raw.
    pub raw: Arc<Mutex<Vec<u8>>>,
    writer: Option<Box<dyn Write + Send>>,
    pub child: Box<dyn Child + Send + Sync>,
    master: Option<Box<dyn MasterPty + Send>>,
    /// Cleared to stop the reader thread (so the pty's last descriptor can be closed).
    reading: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl PtyApp {
    /// Starts `deckhand <args>` in an 80x24 pty with its data folder in `data_dir`.
    pub fn start(args: &[&str], data_dir: &Path) -> PtyApp {
        PtyApp::start_with_env(args, data_dir, &[])
    }

    /// Like `start`, with extra environment variables.
    pub fn start_with_env(args: &[&str], data_dir: &Path, env: &[(&str, &str)]) -> PtyApp {
        PtyApp::start_program(env!("CARGO_BIN_EXE_deckhand"), args, data_dir, env)
    }

    /// Like `start_with_env`, running `program` (a shell that starts deckhand, say) in the pty.
    pub fn start_program(
        program: &str,
        args: &[&str],
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> PtyApp {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        // The data folder must be owner-only (issue 16): a temporary folder may be created 0755.
        if data_dir.is_dir() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .expect("chmod 700");
        }
        cmd.env("DECKHAND_DATA_DIR", data_dir);
        cmd.env("TERM", "xterm-256color");
        cmd.cwd(env!("CARGO_MANIFEST_DIR"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn deckhand");
        drop(pair.slave);
        // The reader is a non-blocking duplicate of the master, so it can be stopped and the pty closed.
        let fd = pair.master.as_raw_fd().expect("pty fd");
        // SAFETY: the fd belongs to `pair.master`, alive here; it is duplicated, not taken.
        let owned = unsafe { BorrowedFd::borrow_raw(fd) }
            .try_clone_to_owned()
            .expect("dup pty");
        nix::fcntl::fcntl(
            &owned,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("non-blocking pty");
        let mut reader = std::fs::File::from(owned);
        let writer = pair.master.take_writer().expect("pty writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(24, 80, 0)));
        let bytes = Arc::new(AtomicUsize::new(0));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let reading = Arc::new(AtomicBool::new(true));
        let (s, b, r, go) = (screen.clone(), bytes.clone(), raw.clone(), reading.clone());
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while go.load(Ordering::SeqCst) {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        b.fetch_add(n, Ordering::SeqCst);
                        r.lock().expect("raw lock").extend_from_slice(&buf[..n]);
                        s.lock().expect("screen lock").process(&buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        PtyApp {
            screen,
            bytes,
            raw,
            writer: Some(writer),
            child,
            master: Some(pair.master),
            reading,
            reader: Some(reader),
        }
    }

    pub fn contents(&self) -> String {
        self.screen.lock().expect("screen lock").screen().contents()
    }

    pub fn send(&mut self, keys: &str) {
        let writer = self.writer.as_mut().expect("the pty is open");
        writer.write_all(keys.as_bytes()).expect("write to pty");
        writer.flush().expect("flush pty");
    }

    /// Sends one key at a time with a short pause, as a person types.
    pub fn type_keys(&mut self, keys: &str) {
        for c in keys.chars() {
            self.send(&c.to_string());
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Waits until `text` is on screen; panics with the screen if it never shows.
    pub fn wait_for(&self, text: &str) {
        self.wait_for_within(text, WAIT_LIMIT);
    }

    /// [`Self::wait_for`] for what takes longer by design (a monitor window), with its own hang guard.
    pub fn wait_for_within(&self, text: &str, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.contents().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{text:?} never appeared; screen:\n{}", self.contents());
    }

    /// Waits until the open prompt takes keys: its instruction line appears only once the guard after it was drawn
    /// has passed (every instruction ends "… cancels."). Call after waiting for the prompt's own title.
    pub fn wait_prompt_ready(&self) {
        self.wait_for("cancels.");
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self) -> u32 {
        let start = Instant::now();
        while start.elapsed() < WAIT_LIMIT {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.exit_code();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        panic!("deckhand did not exit; screen:\n{}", self.contents());
    }

    /// (canonical mode, echo) as the pty currently has them.
    pub fn line_modes(&self) -> (bool, bool) {
        let master = self.master.as_ref().expect("the pty is open");
        let fd = master.as_raw_fd().expect("pty fd");
        // SAFETY: the fd belongs to `self.master`, which outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let t = tcgetattr(fd).expect("tcgetattr");
        (
            t.local_flags.contains(LocalFlags::ICANON),
            t.local_flags.contains(LocalFlags::ECHO),
        )
    }

    /// Asserts the terminal was given back: main screen, visible cursor, no bracketed paste, line mode and echo.
    pub fn assert_restored(&self) {
        // Let the reader thread take the last bytes.
        std::thread::sleep(Duration::from_millis(200));
        let parser = self.screen.lock().expect("screen lock");
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "cursor still hidden");
        assert!(!screen.bracketed_paste(), "bracketed paste still on");
        drop(parser);
        assert_eq!(
            self.line_modes(),
            (true, true),
            "canonical mode and echo not restored"
        );
    }

    /// Waits until `text` was written to the terminal at any time (also text the alternate screen now hides).
    pub fn wait_for_output(&self, text: &str) {
        let start = Instant::now();
        while start.elapsed() < WAIT_LIMIT {
            let raw = self.raw.lock().expect("raw lock");
            if String::from_utf8_lossy(&raw).contains(text) {
                return;
            }
            drop(raw);
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{text:?} was never written; screen:\n{}", self.contents());
    }

    /// Closes the pseudo-terminal as a dropped SSH connection does: every descriptor of its master side goes, so
    /// the kernel hangs up the terminal (SIGHUP to deckhand's session, reads fail). The screen stops updating.
    pub fn hang_up(&mut self) {
        self.reading.store(false, Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            r.join().expect("reader thread");
        }
        self.writer = None;
        self.master = None;
    }

    pub fn pid(&self) -> u32 {
        self.child.process_id().expect("child pid")
    }
}

impl Drop for PtyApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Waits until `done()` holds, checking every 25 ms; false if it still does not after the wait limit (a hang
/// guard: the caller asserts what it waited for).
pub fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > WAIT_LIMIT {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    true
}

/// True when `pid` no longer runs (gone, or a zombie nobody reaped yet).
/// Waits until process `pid` is gone (or a zombie); false if it is still there after the wait limit.
pub fn wait_gone(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < WAIT_LIMIT {
        if process_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X'))
            .unwrap_or(false),
    }
}
