//! The whole behaviour of the console as plain data and a pure function: [`State`], [`Action`] (every input),
//! [`update`] (decides) and [`Effect`] (requests for the event loop to carry out). No I/O, no async, no terminal.
//! May import plan types and message types (runner events, journal events) only.

mod backup;
pub mod busy;
mod confirm;
mod gate;
mod health;
pub mod input;
mod logs;
mod migrations;
mod msg;
mod out;
mod prompt;
mod quit;
pub mod release;
mod resume;
mod route;
pub mod stage;
mod state;
mod steps;
pub mod text;
pub mod typing;
mod update;

pub use backup::{
    BackupPane, restore_choice, restore_loss, step_line, way_back_lines, way_back_step_line,
    way_back_summary,
};
pub use busy::{BackupWork, DbWork, Operation, RollbackWork};
pub use health::{
    CLEAR_SHARE, CheckRun, HealthPane, HealthState, LATENCY_NOISE, MAX_SAMPLES, MIN_ALERT_SAMPLES,
    ROLLBACK_NOTE, SPARK_POINTS, Sample, Stats, VerifyRow, alert_name, alert_reason, baseline_text,
    verify_passes,
};
pub use input::keys::{Command, alert_bindings, bindings, hints};
pub use input::{Layer, TextField, layer};
pub use logs::buffer::{
    CHUNK_BYTES, CHUNK_LINES, LineRef, LogBuffer, LogLine, MAX_LOG_BYTES, MAX_LOG_LINES,
};
pub use logs::layout;
pub use logs::pane::{
    LINE_HEAD_ROWS, LINE_MAX_WIDTH, LINE_SHOWN_BYTES, line_text_area, pan_step,
    selected as selected_line,
};
pub use logs::view::{Filter, LogView, SCAN_SLICE_LINES, Shown, SourceStatus, SourceView};
pub use migrations::drift::DriftView;
pub use migrations::{DbPane, DbView, rehearsal_line};
pub use msg::{Action, Effect, Keypress, Signal};
pub use prompt::{
    CONFIRM_GUARD, Expect, Gated, Modal, ModalFit, ModalKind, ModalOutcome, Picker, Scroll,
    key_label,
};
pub use release::{ReleasePane, Stage, StageStatus};
pub use resume::restore;
pub use state::{Overlay, Pane, PhaseRun, PhaseStatus, QuitState, Row, State, StepRun};
pub use text::{
    backup_line, database_line as database_target, format_clock, format_elapsed, human_bytes,
    outcome_text, progress_text, row_text as backup_row, utc_time,
};
pub use update::update;

/// Effects to issue when the console starts: read the migration status, list the backups, start the health checks, follow the logs.
pub fn init(state: &State) -> Vec<Effect> {
    let mut fx = migrations::init(state);
    fx.extend(backup::init(state));
    fx.extend(health::init(state));
    if !state.plan.logs.is_empty() {
        fx.push(Effect::StartLogSources);
    }
    fx
}

/// A `deckhand tail` session begins: the logs pane alone and focused, the filter typed on the command line applied
/// as if typed with `/`, and the log sources started — no preflight, no notification, nothing journaled.
pub fn start_tail(state: &mut State, filter: Option<&str>) -> Vec<Effect> {
    state.tail = true;
    state.focus = Pane::Logs;
    state.side = Pane::Logs;
    if let Some(text) = filter.filter(|f| !f.is_empty()) {
        state.logview.apply_filter(text, &state.logs);
    }
    let mut fx = out::Out::default();
    fx.extend(init(state));
    update::settle(state, fx)
}

/// Effects to issue once the console is up: `init`'s, plus the preflight checks and the run-start notification.
pub fn start(state: &mut State) -> Vec<Effect> {
    let mut fx = out::Out::default();
    fx.extend(init(state));
    release::request_preflight(state, &mut fx);
    let text = format!("release started by {}", state.release.operator);
    fx.notify("run", text);
    update::settle(state, fx)
}
