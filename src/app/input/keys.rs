//! One key table per input layer: which key means which command there, and its help text. The help overlay and
//! the status bar's hints are generated from the tables of the layers in force.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::Layer;
use crate::app::prompt::{Modal, Scroll};
use crate::app::state::{Pane, Row, State};

/// What a key asks for in the panes layer.
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
    ExtendUp,
    ExtendDown,
    DropIndex,
    TakeBackup,
    RestoreBackup,
    Rehearse,
    Verify,
    Preflight,
    VerifyStage,
    Monitor,
    SignOff,
    Rollback,
    Alerts,
    Filter,
    SearchOlder,
    SearchNewer,
    CycleLevel,
    CycleSource,
    Wrap,
    PanLeft,
    PanRight,
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
            Command::Up => "move up / scroll up one line (logs: select the line above)",
            Command::Down => "move down / scroll down one line (logs: the line below)",
            Command::PageUp | Command::PageDown => "page up / down (migrations: scroll the SQL)",
            Command::Top => "go to the top (logs: oldest line, pauses following)",
            Command::Bottom => "go to the bottom (logs: newest line, follow again)",
            Command::Toggle => "tick or untick the selected checklist item",
            Command::Run => "run the selected phase (asks); logs: show the whole line",
            Command::Cancel => "cancel the running step (asks first)",
            Command::ApplyMigrations => "apply the pending migrations (asks first)",
            Command::DryRun => "dry-run pending migrations (one transaction, rolled back)",
            Command::Refresh => "read the migration status again",
            Command::MarkApplied => "resolve: mark selection applied (SQL not run; asks)",
            Command::MarkRolledBack => "resolve: mark selection rolled back (asks)",
            Command::ExtendUp => "migrations: extend the selection up (a range to resolve)",
            Command::ExtendDown => "migrations: extend the selection down (Esc ends it)",
            Command::DropIndex => "drop an invalid index with DROP INDEX CONCURRENTLY (asks)",
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
            Command::Alerts => "alerts: see them, acknowledge them, or roll back from there",
            Command::Filter => "logs: regex filter (Enter applies, Esc cancels, empty clears)",
            Command::SearchOlder => "logs: jump to the previous (older) match of the filter",
            Command::SearchNewer => "logs: jump to the next (newer) match of the filter",
            Command::CycleLevel => "logs: show all levels / info+ / warn+ / errors only",
            Command::CycleSource => "logs: show all sources / each [[logs]] source alone / steps",
            Command::Wrap => "logs: wrap long lines onto more rows / cut them at the edge",
            Command::PanLeft | Command::PanRight => {
                "logs: scroll long lines sideways (when not wrapped)"
            }
            Command::Help => "show or hide this help",
            Command::Back => "close help / cancel a prompt",
            Command::Quit => "quit (asks first while a step runs)",
        }
    }

    /// In a `deckhand tail` session only the logs' keys work: their help line there, `None` for every other.
    pub fn in_tail(self) -> Option<&'static str> {
        Some(match self {
            Command::Up => "scroll up one line",
            Command::Down => "scroll down one line",
            Command::PageUp | Command::PageDown => "page up / down",
            Command::Top => "go to the oldest line (pauses following)",
            Command::Bottom => "go to the newest line (follows again)",
            Command::Filter => "regex filter (Enter applies, Esc cancels, empty clears)",
            Command::SearchOlder => "jump to the previous (older) match of the filter",
            Command::SearchNewer => "jump to the next (newer) match of the filter",
            Command::CycleLevel => "show all levels / info+ / warn+ / errors only",
            Command::CycleSource => "show all sources / each source alone",
            Command::Wrap => "wrap long lines onto more rows / cut them at the edge",
            Command::PanLeft | Command::PanRight => "scroll long lines sideways (when not wrapped)",
            Command::Run => "show the selected line whole (source, time, level, full text)",
            Command::Help => "show or hide this help",
            Command::Back => "close help / the line",
            Command::Quit => "quit (exit 0)",
            _ => return None,
        })
    }
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

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
    (KeyCode::Char('K'), NONE, Command::ExtendUp),
    (KeyCode::Up, SHIFT, Command::ExtendUp),
    (KeyCode::Char('J'), NONE, Command::ExtendDown),
    (KeyCode::Down, SHIFT, Command::ExtendDown),
    (KeyCode::Char('X'), NONE, Command::DropIndex),
    (KeyCode::Char('B'), NONE, Command::TakeBackup),
    (KeyCode::Char('U'), NONE, Command::RestoreBackup),
    (KeyCode::Char('E'), NONE, Command::Rehearse),
    (KeyCode::Char('v'), NONE, Command::Verify),
    (KeyCode::Char('P'), NONE, Command::Preflight),
    (KeyCode::Char('V'), NONE, Command::VerifyStage),
    (KeyCode::Char('M'), NONE, Command::Monitor),
    (KeyCode::Char('S'), NONE, Command::SignOff),
    (KeyCode::Char('R'), NONE, Command::Rollback),
    (KeyCode::Char('A'), NONE, Command::Alerts),
    (KeyCode::Char('/'), NONE, Command::Filter),
    (KeyCode::Char('n'), NONE, Command::SearchOlder),
    (KeyCode::Char('N'), NONE, Command::SearchNewer),
    (KeyCode::Char('l'), NONE, Command::CycleLevel),
    (KeyCode::Char('s'), NONE, Command::CycleSource),
    (KeyCode::Char('w'), NONE, Command::Wrap),
    (KeyCode::Left, NONE, Command::PanLeft),
    (KeyCode::Right, NONE, Command::PanRight),
    (KeyCode::Char('?'), NONE, Command::Help),
    (KeyCode::Esc, NONE, Command::Back),
    (KeyCode::Char('q'), NONE, Command::Quit),
    (KeyCode::Char('c'), CTRL, Command::Quit),
];

/// What a key asks for while the help overlay is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpCommand {
    Down,
    Up,
    Bottom,
    Top,
    Close,
}

const HELP_BINDINGS: &[(KeyCode, KeyModifiers, HelpCommand)] = &[
    (KeyCode::Char('j'), NONE, HelpCommand::Down),
    (KeyCode::Down, NONE, HelpCommand::Down),
    (KeyCode::Char('k'), NONE, HelpCommand::Up),
    (KeyCode::Up, NONE, HelpCommand::Up),
    (KeyCode::PageDown, NONE, HelpCommand::Bottom),
    (KeyCode::Char('G'), NONE, HelpCommand::Bottom),
    (KeyCode::PageUp, NONE, HelpCommand::Top),
    (KeyCode::Char('g'), NONE, HelpCommand::Top),
    (KeyCode::Esc, NONE, HelpCommand::Close),
    (KeyCode::Char('?'), NONE, HelpCommand::Close),
    (KeyCode::Char('q'), NONE, HelpCommand::Close),
    (KeyCode::Char('c'), CTRL, HelpCommand::Close),
];

impl HelpCommand {
    fn help(self) -> &'static str {
        match self {
            HelpCommand::Down | HelpCommand::Up => "scroll",
            HelpCommand::Bottom | HelpCommand::Top => "end / start",
            HelpCommand::Close => "close help",
        }
    }
}

/// What a key asks for while a log line is shown whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCommand {
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Close,
}

const LINE_BINDINGS: &[(KeyCode, KeyModifiers, LineCommand)] = &[
    (KeyCode::Char('j'), NONE, LineCommand::Down),
    (KeyCode::Char('k'), NONE, LineCommand::Up),
    (KeyCode::Down, NONE, LineCommand::Down),
    (KeyCode::Up, NONE, LineCommand::Up),
    (KeyCode::PageDown, NONE, LineCommand::PageDown),
    (KeyCode::PageUp, NONE, LineCommand::PageUp),
    (KeyCode::Char(' '), NONE, LineCommand::PageDown),
    (KeyCode::Char('g'), NONE, LineCommand::Top),
    (KeyCode::Char('G'), NONE, LineCommand::Bottom),
    (KeyCode::Home, NONE, LineCommand::Top),
    (KeyCode::End, NONE, LineCommand::Bottom),
    (KeyCode::Esc, NONE, LineCommand::Close),
    (KeyCode::Enter, NONE, LineCommand::Close),
    (KeyCode::Char('q'), NONE, LineCommand::Close),
    (KeyCode::Char('c'), CTRL, LineCommand::Close),
];

impl LineCommand {
    fn help(self) -> &'static str {
        match self {
            LineCommand::Down | LineCommand::Up => "scroll",
            LineCommand::PageDown | LineCommand::PageUp => "page",
            LineCommand::Top | LineCommand::Bottom => "start / end",
            LineCommand::Close => "close",
        }
    }
}

/// What a key asks for while the alerts overlay is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertCommand {
    Acknowledge,
    Rollback,
    Close,
}

const ALERT_BINDINGS: &[(KeyCode, KeyModifiers, AlertCommand)] = &[
    (KeyCode::Enter, NONE, AlertCommand::Acknowledge),
    (KeyCode::Char('a'), NONE, AlertCommand::Acknowledge),
    (KeyCode::Char('R'), NONE, AlertCommand::Rollback),
    (KeyCode::Esc, NONE, AlertCommand::Close),
    (KeyCode::Char('A'), NONE, AlertCommand::Close),
    (KeyCode::Char('q'), NONE, AlertCommand::Close),
];

impl AlertCommand {
    fn help(self) -> &'static str {
        match self {
            AlertCommand::Acknowledge => "acknowledge (journaled)",
            AlertCommand::Rollback => "rollback plan",
            AlertCommand::Close => "close",
        }
    }
}

/// The keys that move the context of a prompt taller than the screen; they neither answer nor decline it. In a
/// prompt that takes typed text the letters are typed, so only the arrows, PgUp/PgDn and Home/End scroll there; in a
/// `y` prompt `j`/`k` scroll too. In a picker the arrows choose.
const PROMPT_SCROLL_BINDINGS: &[(KeyCode, KeyModifiers, Scroll)] = &[
    (KeyCode::PageDown, NONE, Scroll::PageDown),
    (KeyCode::PageUp, NONE, Scroll::PageUp),
    (KeyCode::Down, NONE, Scroll::Down),
    (KeyCode::Up, NONE, Scroll::Up),
    (KeyCode::Char('j'), NONE, Scroll::Down),
    (KeyCode::Char('k'), NONE, Scroll::Up),
    (KeyCode::Home, NONE, Scroll::Top),
    (KeyCode::End, NONE, Scroll::Bottom),
];

/// The key table of one layer.
trait Table: Copy + PartialEq + 'static {
    fn table() -> &'static [(KeyCode, KeyModifiers, Self)];
    fn help_text(self) -> &'static str;
}

impl Table for Command {
    fn table() -> &'static [(KeyCode, KeyModifiers, Self)] {
        BINDINGS
    }
    fn help_text(self) -> &'static str {
        self.help()
    }
}

impl Table for HelpCommand {
    fn table() -> &'static [(KeyCode, KeyModifiers, Self)] {
        HELP_BINDINGS
    }
    fn help_text(self) -> &'static str {
        self.help()
    }
}

impl Table for AlertCommand {
    fn table() -> &'static [(KeyCode, KeyModifiers, Self)] {
        ALERT_BINDINGS
    }
    fn help_text(self) -> &'static str {
        self.help()
    }
}

impl Table for LineCommand {
    fn table() -> &'static [(KeyCode, KeyModifiers, Self)] {
        LINE_BINDINGS
    }
    fn help_text(self) -> &'static str {
        self.help()
    }
}

impl Table for Scroll {
    fn table() -> &'static [(KeyCode, KeyModifiers, Self)] {
        PROMPT_SCROLL_BINDINGS
    }
    fn help_text(self) -> &'static str {
        "scroll the prompt"
    }
}

/// The command of table `T` for a key press, if any. Shift is ignored for characters (it is already in the
/// character) and for Shift-Tab (reported as BackTab).
fn find<T: Table>(key: KeyEvent) -> Option<T> {
    let mut mods = key.modifiers;
    if matches!(key.code, KeyCode::Char(_) | KeyCode::BackTab) {
        mods.remove(KeyModifiers::SHIFT);
    }
    T::table()
        .iter()
        .find(|(code, m, _)| *code == key.code && *m == mods)
        .map(|(_, _, cmd)| *cmd)
}

/// The panes layer's command for a key.
pub fn lookup(key: KeyEvent) -> Option<Command> {
    find(key)
}

/// The help overlay's command for a key.
pub fn lookup_help(key: KeyEvent) -> Option<HelpCommand> {
    find(key)
}

/// How a key scrolls the open prompt `m`, if it is one of its scroll keys (see [`PROMPT_SCROLL_BINDINGS`]).
pub fn lookup_prompt_scroll(key: KeyEvent, m: &Modal) -> Option<Scroll> {
    let how = find::<Scroll>(key)?;
    let typed = matches!(key.code, KeyCode::Char(_)) && m.expect.typed();
    let chooses = matches!(key.code, KeyCode::Up | KeyCode::Down) && m.picker.is_some();
    (!typed && !chooses).then_some(how)
}

/// The line overlay's command for a key.
pub fn lookup_line(key: KeyEvent) -> Option<LineCommand> {
    find(key)
}

/// The alerts overlay's command for a key.
pub fn lookup_alerts(key: KeyEvent) -> Option<AlertCommand> {
    find(key)
}

/// Every command of table `T` with all its keys, in table order; commands sharing a help line share a row.
fn rows<T: Table>() -> Vec<(String, &'static str)> {
    rows_with::<T>(|cmd| Some(cmd.help_text()))
}

/// [`rows`] with each command's help line from `help`; a command it gives none is left out.
fn rows_with<T: Table>(help: impl Fn(T) -> Option<&'static str>) -> Vec<(String, &'static str)> {
    let mut out: Vec<(&'static str, Vec<String>)> = Vec::new();
    for (code, mods, cmd) in T::table() {
        let Some(text) = help(*cmd) else {
            continue;
        };
        let label = crate::app::prompt::key_label(*code, *mods);
        match out.iter_mut().find(|(help, _)| *help == text) {
            Some((_, keys)) => keys.push(label),
            None => out.push((text, vec![label])),
        }
    }
    out.into_iter()
        .map(|(help, keys)| (keys.join(" / "), help))
        .collect()
}

/// The help overlay: the panes layer's table (the layer under it), in table order; in a tail session only the
/// keys that work there.
pub fn bindings(state: &State) -> Vec<(String, &'static str)> {
    if state.tail {
        rows_with(Command::in_tail)
    } else {
        rows::<Command>()
    }
}

/// The alerts overlay's keys, for its own hint line.
pub fn alert_bindings() -> Vec<(String, &'static str)> {
    rows::<AlertCommand>()
}

/// The keys that apply right now, for the status bar: (keys, what they do), from the table of the layer in force.
pub fn hints(state: &State) -> Vec<(String, &'static str)> {
    let owned =
        |v: Vec<(&str, &'static str)>| v.into_iter().map(|(k, w)| (k.to_string(), w)).collect();
    let short = |rows: Vec<(String, &'static str)>| {
        // The status bar names at most two keys per command.
        rows.into_iter()
            .map(|(keys, what)| {
                (
                    keys.split(" / ").take(2).collect::<Vec<_>>().join("/"),
                    what,
                )
            })
            .collect()
    };
    match super::layer(state) {
        Layer::Help => short(rows::<HelpCommand>()),
        Layer::Alerts => short(rows::<AlertCommand>()),
        Layer::Line => short(rows::<LineCommand>()),
        Layer::Prompt | Layer::Text => owned(super::text_hints(state)),
        Layer::Panes => owned(pane_hints(state)),
    }
}

/// The panes layer's keys that do something for the selected row and focused pane.
fn pane_hints(state: &State) -> Vec<(&'static str, &'static str)> {
    if state.tail {
        return tail_hints(state);
    }
    let mut h = Vec::new();
    match state.focus {
        Pane::Checklist => match state.selected_row() {
            Some(Row::Check(_)) => h.push(("Space", "tick")),
            Some(Row::Phase(_)) if state.op.is_none() => h.push(("Enter", "run phase")),
            Some(Row::Backup) if state.op.is_none() => h.push(("Enter", "back up")),
            Some(Row::Stage(s)) => h.push(("Enter", crate::app::stage::row_action(s))),
            _ => {}
        },
        Pane::Logs => h.extend([
            ("j/k", "select"),
            ("Enter", "line"),
            ("G", "follow"),
            ("/", "filter"),
            ("n/N", "match"),
            ("w", "wrap"),
            ("←/→", "pan"),
            ("l", "level"),
            ("s", "source"),
        ]),
        Pane::Health if !state.plan.verify.is_empty() => h.push(("v", "verify")),
        Pane::Migrations if state.db.anchor.is_some() => {
            h.extend([("m/b", "resolve range"), ("Esc", "end range")])
        }
        Pane::Migrations if state.plan.database.is_some() => {
            h.extend([("a", "apply"), ("d", "dry-run"), ("r", "refresh")]);
            if state
                .db
                .snapshot()
                .is_some_and(|s| !s.status.invalid_indexes.is_empty())
            {
                h.push(("X", "drop index"));
            }
        }
        _ => {}
    }
    match state.op {
        Some(op) if op.step().is_some() => h.push(("c", "cancel step")),
        Some(op) if op.backup().is_some() => h.push(("c", "cancel backup")),
        _ => {}
    }
    if !state.health.queue().is_empty() {
        h.push(("A", "alerts"));
    }
    h.extend([
        ("R", "rollback"),
        ("Tab", "pane"),
        ("?", "help"),
        ("q", "quit"),
    ]);
    h
}

/// A tail session's keys: the logs pane's, then help and quit (fits 80 columns).
fn tail_hints(state: &State) -> Vec<(&'static str, &'static str)> {
    let mut h = vec![
        ("j/k", "scroll"),
        ("G", "follow"),
        ("/", "filter"),
        ("n/N", "match"),
        ("l", "level"),
    ];
    // With one source, "each source alone" is the same as all of them.
    if state.logview.sources.len() > 1 {
        h.push(("s", "source"));
    }
    h.extend([("?", "help"), ("q", "quit")]);
    h
}
