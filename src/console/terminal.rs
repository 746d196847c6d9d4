//! Owning the terminal: raw mode, alternate screen, bracketed paste and a hidden cursor on the way in; all of it
//! undone on the way out — on return, on error (a drop guard) and on panic (a hook). Restoring a terminal that is
//! already gone only fails quietly.

use std::io::{self, Stdout, stdout};

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
