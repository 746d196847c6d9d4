//! The keymap as a table: which key means which command, its help text, and the hints the status bar shows
//! for the current situation. The help overlay and the status bar are generated from this one table.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::state::{Pane, Row, State};

/// What a key asks for (outside modals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    FocusNext,
    FocusPrev,
    FocusPane(Pane),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Toggle,
    Run,
    Cancel,
    ApplyMigrations,
    DryRun,
    Refresh,
    MarkApplied,
    MarkRolledBack,
    TakeBackup,
    RestoreBackup,
    Rehearse,
    Verify,
    Preflight,
    VerifyStage,
    Monitor,
    SignOff,
    Rollback,
    Filter,
    SearchOlder,
    SearchNewer,
    CycleLevel,
    CycleSource,
    Help,
    Back,
    Quit,
}

impl Command {
    /// One line for the help overlay.
    pub fn help(self) -> &'static str {
        match self {
            Command::FocusNext => "focus the next pane",
            Command::FocusPrev => "focus the previous pane",
            Command::FocusPane(_) => "focus checklist, migrations, logs, health",
            Command::Up => "move up / scroll up one line",
            Command::Down => "move down / scroll down one line",
            Command::PageUp | Command::PageDown => "page up / down (migrations: scroll the SQL)",
            Command::Top => "go to the top (logs: oldest line, pauses following)",
            Command::Bottom => "go to the bottom (logs: newest line, follow again)",
            Command::Toggle => "tick or untick the selected checklist item",
            Command::Run => "run the selected phase (destructive phases ask to confirm)",
            Command::Cancel => "cancel the running step (asks first)",
            Command::ApplyMigrations => "apply the pending migrations (asks first)",
            Command::DryRun => "dry-run the pending migrations (one transaction, rolled back)",
            Command::Refresh => "read the migration status again",
            Command::MarkApplied => "resolve: mark the selected migration applied (asks)",
            Command::MarkRolledBack => "resolve: mark the selected migration rolled back (asks)",
            Command::TakeBackup => "take a backup now (then verified by reading it all back)",
            Command::RestoreBackup => "restore a backup (pick one; type the database name)",
            Command::Rehearse => "rehearse the pending migrations on a restored copy",
            Command::Verify => "run the [[verify]] SQL assertions (results: health pane)",
            Command::Preflight => "run the preflight checks again (reachability, window, terminal)",
            Command::VerifyStage => {
                "verify stage: SQL assertions, smoke endpoints and health, together"
            }
            Command::Monitor => "start the monitor window (again: stop it early, with a reason)",
            Command::SignOff => {
                "sign off: notes and who signs (Tab switches, Ctrl-S signs, Esc closes)"
            }
            Command::Rollback => {
                "roll back: [rollback] steps, then the database; verify runs again"
            }
            Command::Filter => "logs: regex filter (Enter applies, Esc cancels, empty clears)",
            Command::SearchOlder => "logs: jump to the previous (older) match of the filter",
            Command::SearchNewer => "logs: jump to the next (newer) match of the filter",
            Command::CycleLevel => "logs: show all levels / info+ / warn+ / errors only",
            Command::CycleSource => "logs: show all sources / each [[logs]] source alone / steps",
            Command::Help => "show or hide this help",
            Command::Back => "close help / cancel a prompt",
            Command::Quit => "quit (asks first while a step runs)",
        }
    }
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

/// Every binding, in the order the help overlay lists them.
const BINDINGS: &[(KeyCode, KeyModifiers, Command)] = &[
    (KeyCode::Tab, NONE, Command::FocusNext),
    (KeyCode::BackTab, NONE, Command::FocusPrev),
    (
        KeyCode::Char('1'),
        NONE,
        Command::FocusPane(Pane::Checklist),
    ),
    (
        KeyCode::Char('2'),
        NONE,
        Command::FocusPane(Pane::Migrations),
    ),
    (KeyCode::Char('3'), NONE, Command::FocusPane(Pane::Logs)),
    (KeyCode::Char('4'), NONE, Command::FocusPane(Pane::Health)),
    (KeyCode::Char('k'), NONE, Command::Up),
    (KeyCode::Up, NONE, Command::Up),
    (KeyCode::Char('j'), NONE, Command::Down),
    (KeyCode::Down, NONE, Command::Down),
    (KeyCode::PageUp, NONE, Command::PageUp),
    (KeyCode::PageDown, NONE, Command::PageDown),
    (KeyCode::Char('g'), NONE, Command::Top),
    (KeyCode::Home, NONE, Command::Top),
    (KeyCode::Char('G'), NONE, Command::Bottom),
    (KeyCode::End, NONE, Command::Bottom),
    (KeyCode::Char(' '), NONE, Command::Toggle),
    (KeyCode::Enter, NONE, Command::Run),
    (KeyCode::Char('c'), NONE, Command::Cancel),
    (KeyCode::Char('a'), NONE, Command::ApplyMigrations),
    (KeyCode::Char('d'), NONE, Command::DryRun),
    (KeyCode::Char('r'), NONE, Command::Refresh),
    (KeyCode::Char('m'), NONE, Command::MarkApplied),
    (KeyCode::Char('b'), NONE, Command::MarkRolledBack),
    (KeyCode::Char('B'), NONE, Command::TakeBackup),
    (KeyCode::Char('U'), NONE, Command::RestoreBackup),
    (KeyCode::Char('E'), NONE, Command::Rehearse),
    (KeyCode::Char('v'), NONE, Command::Verify),
    (KeyCode::Char('P'), NONE, Command::Preflight),
    (KeyCode::Char('V'), NONE, Command::VerifyStage),
    (KeyCode::Char('M'), NONE, Command::Monitor),
    (KeyCode::Char('S'), NONE, Command::SignOff),
    (KeyCode::Char('R'), NONE, Command::Rollback),
    (KeyCode::Char('/'), NONE, Command::Filter),
    (KeyCode::Char('n'), NONE, Command::SearchOlder),
    (KeyCode::Char('N'), NONE, Command::SearchNewer),
    (KeyCode::Char('l'), NONE, Command::CycleLevel),
    (KeyCode::Char('s'), NONE, Command::CycleSource),
    (KeyCode::Char('?'), NONE, Command::Help),
    (KeyCode::Esc, NONE, Command::Back),
    (KeyCode::Char('q'), NONE, Command::Quit),
    (KeyCode::Char('c'), CTRL, Command::Quit),
];

/// The command for a key press, if any. Shift is ignored for characters (it is already in the character) and
/// for Shift-Tab (reported as BackTab).
pub fn lookup(key: KeyEvent) -> Option<Command> {
    let mut mods = key.modifiers;
    if matches!(key.code, KeyCode::Char(_) | KeyCode::BackTab) {
        mods.remove(KeyModifiers::SHIFT);
    }
    BINDINGS
        .iter()
        .find(|(code, m, _)| *code == key.code && *m == mods)
        .map(|(_, _, cmd)| *cmd)
}

/// Every command with all its keys, for the help overlay, in table order; commands that share a help line
/// (the four pane keys, page up and down) share a row.
pub fn bindings() -> Vec<(String, &'static str)> {
    let mut out: Vec<(&'static str, Vec<String>)> = Vec::new();
    for (code, mods, cmd) in BINDINGS {
        let label = key_label(*code, *mods);
        match out.iter_mut().find(|(help, _)| *help == cmd.help()) {
            Some((_, keys)) => keys.push(label),
            None => out.push((cmd.help(), vec![label])),
        }
    }
    out.into_iter()
        .map(|(help, keys)| (keys.join(" / "), help))
        .collect()
}

/// A key as the screen names it.
pub fn key_label(code: KeyCode, mods: KeyModifiers) -> String {
    let base = match code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
            c.to_ascii_uppercase().to_string()
        }
        KeyCode::Char(c) => c.to_string(),
        KeyCode::BackTab => "Shift-Tab".to_string(),
        KeyCode::PageUp => "PgUp".to_string(),
        KeyCode::PageDown => "PgDn".to_string(),
        KeyCode::Up => "Up".to_string(),
        KeyCode::Down => "Down".to_string(),
        other => format!("{other:?}"),
    };
    if mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{base}")
    } else {
        base
    }
}

/// The keys that apply right now, for the status bar: (keys, what they do).
pub fn hints(state: &State) -> Vec<(&'static str, &'static str)> {
    if let Some(modal) = &state.modal {
        return match modal.expect {
            super::Expect::Yes => vec![("y", "confirm"), ("other", "cancel")],
            _ => vec![("Enter", "confirm"), ("Esc", "cancel")],
        };
    }
    if state.help {
        return vec![("j/k", "scroll"), ("Esc/?", "close help")];
    }
    if state.release.signoff.is_some() {
        return vec![("Tab", "notes/name"), ("Ctrl-S", "sign"), ("Esc", "close")];
    }
    let mut h = Vec::new();
    match state.focus {
        Pane::Checklist => match state.selected_row() {
            Some(Row::Check(_)) => h.push(("Space", "tick")),
            Some(Row::Phase(_)) if state.running.is_none() => h.push(("Enter", "run phase")),
            Some(Row::Backup) if state.backup.busy.is_none() => h.push(("Enter", "back up")),
            Some(Row::Stage(s)) => h.push(("Enter", super::release::row_action(s))),
            _ => {}
        },
        Pane::Logs if state.logview.input.is_some() => {
            return vec![("Enter", "apply filter"), ("Esc", "cancel")];
        }
        Pane::Logs => h.extend([
            ("j/k", "scroll"),
            ("G", "follow"),
            ("/", "filter"),
            ("n/N", "match"),
            ("l", "level"),
            ("s", "source"),
        ]),
        Pane::Health if !state.plan.verify.is_empty() => h.push(("v", "verify")),
        Pane::Migrations if state.plan.database.is_some() => {
            h.extend([("a", "apply"), ("d", "dry-run"), ("r", "refresh")])
        }
        _ => {}
    }
    if state.running.is_some() {
        h.push(("c", "cancel step"));
    } else if state.backup.busy.is_some() {
        h.push(("c", "cancel backup"));
    }
    h.extend([
        ("R", "rollback"),
        ("Tab", "pane"),
        ("?", "help"),
        ("q", "quit"),
    ]);
    h
}
