//! Owning the terminal: raw mode, alternate screen, bracketed paste and a hidden cursor on the way in; all of it
//! undone on the way out — on return, on error (a drop guard) and on panic (a hook). Restoring a terminal that is
//! already gone only fails quietly. [`HangupWatch`] tells when the terminal went away unannounced.

use std::io::{self, Stdout, stdout};
use std::os::fd::AsFd;

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Takes over the terminal. On failure, whatever was already changed is undone.
pub fn enter() -> io::Result<Term> {
    let setup = || -> io::Result<Term> {
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste, Hide)?;
        Terminal::new(CrosstermBackend::new(stdout()))
    };
    setup().inspect_err(|_| restore())
}

/// Gives the terminal back: main screen, echo and line mode, visible cursor, no bracketed paste. Idempotent;
/// every error is ignored because the terminal may be gone (SIGHUP) and there is nobody left to tell.
pub fn restore() {
    let _ = execute!(stdout(), DisableBracketedPaste, LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
}

/// Tells whether the terminal hung up: its other side closed (a dropped SSH connection, a killed tmux session).
/// Which of standard input and output are terminals is read when the watch is made: a hung-up terminal no longer
/// answers `isatty`.
pub struct HangupWatch {
    ttys: [bool; 2],
}

impl HangupWatch {
    pub fn start() -> HangupWatch {
        let tty = |fd: std::os::fd::BorrowedFd<'_>| nix::unistd::isatty(fd).unwrap_or(false);
        HangupWatch {
            ttys: [tty(io::stdin().as_fd()), tty(io::stdout().as_fd())],
        }
    }

    /// Watches from a thread of its own, every [`HANGUP_CHECK`], until the terminal hangs up or the receiver is
    /// gone. On a hang-up it unjams standard input ([`unjam_stdin`]) and sends once.
    pub fn spawn(self) -> tokio::sync::mpsc::Receiver<()> {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let watch = move || {
            while !tx.is_closed() {
                std::thread::sleep(HANGUP_CHECK);
                if self.hung_up() {
                    unjam_stdin();
                    let _ = tx.blocking_send(());
                    return;
                }
            }
        };
        // Without the thread (the system refuses one) only a signal or a failed draw tells of a hang-up.
        let _ = std::thread::Builder::new()
            .name("hangup-watch".into())
            .spawn(watch);
        rx
    }

    /// Polls the terminals for `POLLHUP` (a hung-up terminal reports it, with `POLLERR`, on every poll), without
    /// reading anything.
    fn hung_up(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let (stdin, stdout) = (io::stdin(), io::stdout());
        let mut fds: Vec<PollFd<'_>> = [stdin.as_fd(), stdout.as_fd()]
            .into_iter()
            .zip(self.ttys)
            .filter(|(_, tty)| *tty)
            .map(|(fd, _)| PollFd::new(fd, PollFlags::empty()))
            .collect();
        let gone = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
        poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
            && fds
                .iter()
                .any(|fd| fd.revents().is_some_and(|r| r.intersects(gone)))
    }
}

/// How often [`HangupWatch`] asks whether the terminal hung up: a terminal can go away with no SIGHUP sent to
/// deckhand (its shell ignores hang-ups, and the kernel signals the session's leader alone) and no read failing.
const HANGUP_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// After a hang-up, reading the terminal returns nothing, forever: crossterm's reader then loops without end
/// (crossterm PR #1067), on its own thread or, when it is the one holding the reader, on the console's, which then
/// never gets to hear of the hang-up. Standard input is replaced by an empty non-blocking pipe whose write end is
/// kept open: the next read says "would block", and the reader goes back to waiting on the dead terminal, which
/// never wakes it again. Best effort: nothing changes when the pipe cannot be made.
fn unjam_stdin() {
    use nix::fcntl::OFlag;
    let Ok((read, write)) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC) else {
        return;
    };
    let _ = nix::unistd::dup2_stdin(&read);
    // The write end stays open for the life of the process: with it closed, reads would return end of file.
    std::mem::forget(write);
}

/// Restores the terminal when dropped (early return, `?`, unwinding).
pub struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the terminal before the default panic message is printed, so the message is readable. Only a panic
/// on the main thread (the event loop) ends the console; a panic inside a runner task is caught and reported as
/// that step failing, and must not tear the screen down under a console that keeps running.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            restore();
        }
        previous(info);
    }));
}
