//! `update`: the single pure function that turns an [`Action`] into state changes and [`Effect`]s.
//! Key and pane handling live here; the run flow (phases, steps, confirmations, quitting) in `flow`.

use crate::app::out::Out;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::backup;
use super::health;
use super::input::keys::{self, AlertCommand, Command, HelpCommand};
use super::input::{Layer, TextField};
use super::logs::pane as logs_pane;
use super::logs::view::Shown;
use super::migrations;
use super::msg::{Action, Effect};
use super::prompt::ModalOutcome;
use super::stage::Stage;
use super::state::{Overlay, Pane, Row, State};
use super::steps;
use crate::journal::Event;
use crate::runner::Level;
use crate::runner::migrate::Resolve;

/// Applies one action at time `now`. Pure: the same state, action and time give the same result.
pub fn update(state: &mut State, action: Action, now: Instant) -> Vec<Effect> {
    state.now = now;
    let mut fx = Out::default();
    match action {
        Action::Key(key) if key.event.kind != KeyEventKind::Release => {
            let burst = state
                .typing
                .is_burst(key.read.unwrap_or(now), key.after_stall);
            on_key(state, key.event, key.read.unwrap_or(now), burst, &mut fx)
        }
        Action::Key(_) => {}
        Action::Paste(text) if state.release.signoff.is_some() && state.modal.is_none() => {
            super::release::on_signoff_paste(state, &text);
            state.dirty = true;
        }
        Action::Paste(text) => {
            match state.modal.as_mut() {
                Some(m) => m.on_paste(),
                None if state.logview.input.is_some() => {
                    // A pattern may be pasted into the filter line (one line, controls dropped).
                    let clean = text
                        .lines()
                        .next()
                        .unwrap_or("")
                        .replace(char::is_control, "");
                    if let Some(input) = state.logview.input.as_mut() {
                        input.push_str(&clean);
                    }
                }
                None => {
                    state.flash = Some("Paste ignored: deckhand takes keys one at a time.".into())
                }
            }
            state.dirty = true;
        }
        Action::Resize { width, height } => {
            state.width = width;
            state.height = height;
            state.dirty = true;
        }
        Action::Runner(ev) => super::route::runner(state, ev, &mut fx),
        Action::Tick => {
            state.logview.scan_step(&state.logs);
            super::release::tick_monitor(state, &mut fx);
            // A log source's alert is judged again as its window moves on, lines or not.
            let checks = state.plan.health.len();
            let alerting: Vec<usize> = (state.health.alerts())
                .filter_map(|(i, _)| i.checked_sub(checks))
                .collect();
            for source in alerting {
                fx.notice(super::msg::Notice::SourceLines { source });
            }
            state.dirty = true;
        }
        Action::ModalShown => {
            if let Some(m) = state.modal.as_mut() {
                m.mark_shown(now);
            }
        }
        Action::ModalFit(fit) => {
            if let Some(m) = state.modal.as_mut().filter(|m| m.fit != Some(fit)) {
                m.fitted(fit);
                // The scroll and the status bar's hints follow the fit.
                state.dirty = true;
            }
        }
        Action::Signal(sig) => super::quit::on_signal(state, sig, &mut fx),
        Action::TerminalLost(why) => super::quit::on_terminal_lost(state, why, &mut fx),
        Action::EffectFailed(msg) => {
            state.flash = Some(msg);
            state.dirty = true;
        }
    }
    settle(state, fx)
}

/// Routes the notices the rooms left (and those the routing leaves in turn), starts the verify a rollback waits
/// for once it may, then journals what changed in the release stages: before a report is written or a quit is
/// journaled, which stay last.
pub(super) fn settle(state: &mut State, mut fx: Out) -> Vec<Effect> {
    route_all(state, &mut fx);
    let mut effects = fx.into_effects();
    let mut own = Out::default();
    // After a rollback, verify starts once health recovered (or the wait ran out): judged after every action's
    // news, an alert's clearing included.
    super::release::poll_recovery(state, &mut own);
    super::resume::announce(state, &mut own);
    super::release::sync(state, &mut own);
    route_all(state, &mut own);
    let at = effects
        .iter()
        .position(|e| {
            matches!(
                e,
                Effect::Quit | Effect::WriteReport | Effect::Journal(Event::Quit { .. })
            )
        })
        .unwrap_or(effects.len());
    effects.splice(at..at, own.into_effects());
    if state.tail {
        // A tail session is not a release: nothing is journaled and nobody is notified.
        effects.retain(|e| !matches!(e, Effect::Journal(_) | Effect::Notify { .. }));
    }
    effects
}

/// Routes every notice, depth first, each one's consequences put where it was raised (so a room's news lands in
/// the journal where a direct call would have put it, e.g. before a quit journaled after it).
fn route_all(state: &mut State, fx: &mut Out) {
    while let Some((notice, at)) = fx.next_notice() {
        let mut routed = Out::default();
        super::route::notice(state, notice, &mut routed);
        fx.splice_at(at, routed);
    }
}

/// A key read at `read` reaches exactly one layer: the one [`super::layer`] names.
fn on_key(state: &mut State, key: KeyEvent, read: Instant, burst: bool, fx: &mut Out) {
    if state.quit != super::QuitState::No {
        return;
    }
    match super::layer(state) {
        Layer::Text | Layer::Prompt if state.modal.is_some() => {
            state.dirty = true;
            let Some(modal) = state.modal.as_mut() else {
                return;
            };
            // Reading a prompt taller than the screen: its scroll keys answer nothing, even before keys count.
            if let Some(how) = keys::lookup_prompt_scroll(key, modal) {
                modal.scroll_by(how);
                return;
            }
            match modal.on_key(key, read, burst) {
                ModalOutcome::Open => {}
                ModalOutcome::Confirmed { typed } => super::confirm::confirmed(state, typed, fx),
                ModalOutcome::Declined { typed, why } => {
                    super::confirm::declined(state, typed, why, fx)
                }
            }
        }
        Layer::Text | Layer::Prompt => on_text_key(state, key, fx),
        Layer::Alerts => {
            if let Some(command) = keys::lookup_alerts(key) {
                state.dirty = true;
                on_alert_command(state, command, fx);
            }
        }
        Layer::Help => {
            if let Some(command) = keys::lookup_help(key) {
                state.dirty = true;
                on_help_command(state, command);
            }
        }
        Layer::Line => {
            if let Some(command) = keys::lookup_line(key) {
                state.dirty = true;
                logs_pane::on_line_command(state, command);
            }
        }
        Layer::Panes => {
            // An unbound key changes nothing, so nothing is redrawn.
            if let Some(command) = keys::lookup(key) {
                state.dirty = true;
                state.flash = None;
                pane_command(state, command, fx);
            }
        }
    }
}

/// A key for the sign-off form or the logs filter line.
fn on_text_key(state: &mut State, key: KeyEvent, fx: &mut Out) {
    match super::input::text_field(state) {
        Some(TextField::SignOff) => {
            state.dirty = true;
            super::release::on_signoff_key(state, key, fx);
        }
        Some(TextField::Filter) => {
            if on_filter_key(state, key) {
                state.dirty = true;
            } else if let Some(command) = keys::lookup(key) {
                // Keys the line does not type (Ctrl-C, Tab, arrows) work as in the panes.
                state.dirty = true;
                pane_command(state, command, fx);
            }
        }
        Some(TextField::Answer) | None => {}
    }
}

/// A command of the panes layer; in a tail session only the logs' commands (the others have nothing to act on).
fn pane_command(state: &mut State, command: Command, fx: &mut Out) {
    if state.tail && command.in_tail().is_none() {
        state.flash = Some("deckhand tail shows the logs only; ? lists its keys.".into());
        return;
    }
    on_command(state, command, fx);
}

fn on_help_command(state: &mut State, command: HelpCommand) {
    // The overlay scrolls when it is taller than the screen (the view clamps the offset).
    let max = keys::bindings(state).len();
    let Some(Overlay::Help { scroll }) = state.overlay.as_mut() else {
        return;
    };
    match command {
        HelpCommand::Close => state.overlay = None,
        HelpCommand::Down => *scroll = (*scroll + 1).min(max),
        HelpCommand::Up => *scroll = scroll.saturating_sub(1),
        HelpCommand::Bottom => *scroll = max,
        HelpCommand::Top => *scroll = 0,
    }
}

fn on_alert_command(state: &mut State, command: AlertCommand, fx: &mut Out) {
    match command {
        AlertCommand::Close => state.overlay = None,
        AlertCommand::Acknowledge => {
            state.overlay = None;
            health::acknowledge(&mut state.health, fx);
        }
        AlertCommand::Rollback => {
            state.overlay = None;
            super::release::request_rollback(state, "operator pressed R on the alerts", fx);
        }
    }
}

fn on_command(state: &mut State, command: Command, fx: &mut Out) {
    if state.focus == Pane::Logs && logs_pane::on_command(state, command) {
        return;
    }
    match command {
        Command::FocusNext => set_focus(state, state.focus.next()),
        Command::FocusPrev => set_focus(state, state.focus.prev()),
        Command::FocusPane(p) => set_focus(state, p),
        Command::Up => scroll(state, -1),
        Command::Down => scroll(state, 1),
        Command::PageUp => scroll(state, -PAGE_LINES),
        Command::PageDown => scroll(state, PAGE_LINES),
        Command::Top => scroll(state, isize::MIN / 2),
        Command::Bottom => scroll(state, isize::MAX / 2),
        Command::Toggle => match state.selected_row() {
            Some(Row::Check(i)) => toggle(state, i, fx),
            Some(Row::Backup) => state.flash = Some("Enter or B takes a backup.".into()),
            _ => state.flash = Some("Space ticks checklist items; Enter runs a phase.".into()),
        },
        Command::Run => match state.selected_row() {
            Some(Row::Check(i)) => toggle(state, i, fx),
            Some(Row::Phase(p)) => super::gate::request_phase(state, p, fx),
            Some(Row::Backup) => backup::request_take(state, fx),
            Some(Row::Stage(s)) => stage_row(state, s, fx),
            None => {}
        },
        Command::Cancel => {
            if state.running().is_some() || !super::backup::request_cancel(state, fx) {
                steps::request_cancel(state, fx)
            }
        }
        Command::ApplyMigrations
        | Command::DryRun
        | Command::Refresh
        | Command::MarkApplied
        | Command::MarkRolledBack
        | Command::ExtendUp
        | Command::ExtendDown
        | Command::DropIndex => on_migrations_command(state, command, fx),
        Command::TakeBackup => backup::request_take(state, fx),
        Command::RestoreBackup => {
            match super::release::team::lock_modal(state, super::prompt::TeamAfter::Restore) {
                Some(m) => state.ask(m, fx),
                None => backup::request_restore(state, fx),
            }
        }
        Command::Rehearse => backup::request_rehearse(state, fx),
        Command::Verify => health::request_verify(&mut state.health, &state.plan, fx),
        Command::Preflight => super::release::request_preflight(state, fx),
        Command::VerifyStage => super::release::request_stage_verify(state, fx),
        Command::Monitor => super::release::request_monitor(state, fx),
        Command::SignOff => super::release::request_signoff(state, fx),
        Command::Rollback => super::release::request_rollback(state, "operator pressed R", fx),
        Command::Filter
        | Command::SearchOlder
        | Command::SearchNewer
        | Command::CycleLevel
        | Command::CycleSource
        | Command::Wrap
        | Command::PanLeft
        | Command::PanRight => on_logs_command(state, command),
        Command::Help => state.overlay = Some(Overlay::Help { scroll: 0 }),
        Command::Alerts => state.overlay = Some(Overlay::Alerts),
        Command::Back if state.focus == Pane::Migrations => migrations::clear_selection(state),
        Command::Back => {}
        Command::Quit => super::quit::request_quit(state, fx),
    }
}

/// The logs pane's commands (the keys that work from any pane focus it, but for the arrows).
fn on_logs_command(state: &mut State, command: Command) {
    match command {
        Command::Filter => {
            set_focus(state, Pane::Logs);
            let current = state.logview.filter.as_ref().map(|f| f.text.clone());
            state.logview.input = Some(current.unwrap_or_default());
            state.logview.message = None;
        }
        Command::SearchOlder => search(state, true),
        Command::SearchNewer => search(state, false),
        Command::CycleLevel => {
            set_focus(state, Pane::Logs);
            state.logview.min_level = match state.logview.min_level {
                Level::Other => Level::Info,
                Level::Info => Level::Warn,
                Level::Warn => Level::Error,
                Level::Error => Level::Other,
            };
            refilter(state);
        }
        Command::CycleSource => {
            set_focus(state, Pane::Logs);
            let (n, tail) = (state.logview.sources.len(), state.tail);
            state.logview.shown = match state.logview.shown {
                Shown::All if n > 0 => Shown::Source(0),
                Shown::Source(i) if i + 1 < n => Shown::Source(i + 1),
                // A tail session has no steps: after the last source, all of them again.
                Shown::All | Shown::Source(_) if tail => Shown::All,
                Shown::All | Shown::Source(_) => Shown::Steps,
                Shown::Steps => Shown::All,
            };
            refilter(state);
        }
        Command::Wrap => {
            set_focus(state, Pane::Logs);
            logs_pane::toggle_wrap(state);
        }
        Command::PanLeft | Command::PanRight if state.focus == Pane::Logs => {
            logs_pane::pan(state, command == Command::PanRight);
        }
        Command::PanLeft | Command::PanRight => {
            state.flash = Some("←/→ scroll the logs pane sideways (3 focuses it).".into());
        }
        _ => {}
    }
}

/// The migrations pane's commands.
fn on_migrations_command(state: &mut State, command: Command, fx: &mut Out) {
    match command {
        Command::ApplyMigrations => migrations::request_apply(state, fx),
        Command::DryRun => migrations::request_dry_run(state, fx),
        Command::Refresh => migrations::refresh(state, fx),
        Command::MarkApplied => migrations::resolve::request(state, Resolve::MarkApplied, fx),
        Command::MarkRolledBack => migrations::resolve::request(state, Resolve::MarkRolledBack, fx),
        Command::ExtendUp | Command::ExtendDown if state.focus != Pane::Migrations => {
            state.flash = Some("J/K (Shift+Up/Down) select a range in the migrations pane.".into());
        }
        Command::ExtendUp => migrations::extend(state, -1),
        Command::ExtendDown => migrations::extend(state, 1),
        Command::DropIndex => migrations::indexes::request_drop(state, fx),
        _ => {}
    }
}

/// Enter on a stage's row.
fn stage_row(state: &mut State, stage: Stage, fx: &mut Out) {
    match stage {
        Stage::Preflight => super::release::request_preflight(state, fx),
        Stage::Backup => super::backup::request_take(state, fx),
        Stage::Migrate => {
            state.focus = Pane::Migrations;
            state.side = Pane::Migrations;
            state.flash =
                Some("Migrations: d dry-runs, E rehearses on a restored copy, a applies.".into());
        }
        Stage::Deploy => {}
        Stage::Verify => super::release::request_stage_verify(state, fx),
        Stage::Monitor => super::release::request_monitor(state, fx),
        Stage::SignOff => super::release::request_signoff(state, fx),
    }
}

fn set_focus(state: &mut State, pane: Pane) {
    state.focus = pane;
    if pane != Pane::Checklist {
        state.side = pane;
    }
}

/// Lines PgUp/PgDn move in the panes that do not page by themselves (the logs pane pages by its height).
const PAGE_LINES: isize = 5;

/// Moves the selection (checklist) or the view by `delta` lines, clamped (the logs pane moves its own selection).
fn scroll(state: &mut State, delta: isize) {
    match state.focus {
        Pane::Checklist => {
            let last = state.rows().len().saturating_sub(1) as isize;
            state.selected = (state.selected as isize)
                .saturating_add(delta)
                .clamp(0, last) as usize;
        }
        Pane::Logs => {}
        Pane::Migrations => migrations::scroll(state, delta),
        // The view clamps the offset to what there is to show.
        Pane::Health => {
            // At most every line the pane can have (a check takes up to four).
            let max = (state.plan.health.len() * 4 + state.plan.verify.len() + 2) as isize;
            state.health_scroll = (state.health_scroll as isize)
                .saturating_add(delta)
                .clamp(0, max) as usize;
        }
    }
}

/// A key while the filter line is open: typing, Backspace, Enter applies, Esc cancels. False for keys it leaves
/// to the keymap (Ctrl-C quits, Tab moves focus).
fn on_filter_key(state: &mut State, key: KeyEvent) -> bool {
    let Some(input) = state.logview.input.as_mut() else {
        return false;
    };
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return false;
    }
    match key.code {
        KeyCode::Char(c) => input.push(c),
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Esc => state.logview.input = None,
        KeyCode::Enter => {
            let text = state.logview.input.take().unwrap_or_default();
            state.log_offset = 0;
            state.logview.apply_filter(&text, &state.logs);
        }
        _ => return false,
    }
    true
}

/// Rebuilds the shown lines after a toggle changed; the view follows the newest again.
fn refilter(state: &mut State) {
    state.log_offset = 0;
    state.logview.restart_scan(&state.logs);
}

/// `n` / `N`: moves the mark to the previous or next match and scrolls it into view.
fn search(state: &mut State, older: bool) {
    set_focus(state, Pane::Logs);
    if state.logview.filter.is_none() {
        state.flash =
            Some("No pattern: / sets a filter, then n/N jump between its matches.".into());
        return;
    }
    let visible = state.logview.visible_len(&state.logs);
    let bottom = visible.saturating_sub(1 + state.log_offset);
    let from = state.logview.visible_seq(&state.logs, bottom);
    match state.logview.search(older, from) {
        Some(pos) => {
            let page = state.log_page();
            let end = visible - state.log_offset;
            if pos + 1 > end || pos + page < end {
                state.log_offset = visible - 1 - pos;
            }
        }
        None => {
            let which = if older { "older" } else { "newer" };
            state.flash = Some(format!("No {which} match."));
        }
    }
}

fn toggle(state: &mut State, index: usize, fx: &mut Out) {
    let Some(done) = state.checked.get_mut(index) else {
        return;
    };
    *done = !*done;
    let item = state.plan.checklist[index].item.clone();
    fx.push(Effect::Journal(Event::ChecklistTicked {
        index,
        item,
        checked: *done,
    }));
}
