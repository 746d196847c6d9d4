//! The logs pane's keys: the selected line (`j`/`k`, pages, top and bottom move it and the view keeps it in
//! sight), wrapping (`w`), scrolling sideways (`←`/`→`) and the line overlay (Enter shows the selected line whole,
//! its own keys scroll it). While nothing is selected the view follows the newest line, and the newest line in
//! view is the one Enter shows. May import the state and the input layer's key types (kernel).

use crate::app::input::keys::{Command, LineCommand};
use crate::app::state::{Overlay, State};

use super::layout;

/// Most bytes of one line the overlay lays out; a longer line shows its start and says how long it is.
pub const LINE_SHOWN_BYTES: usize = 64 * 1024;
/// Rows of the overlay above the text: what the line is, and how much of it there is.
pub const LINE_HEAD_ROWS: usize = 3;
/// Widest the overlay gets (a wider screen has a margin on each side).
pub const LINE_MAX_WIDTH: u16 = 140;

/// The selected line: its position among the shown lines, its sequence number, and whether it was chosen
/// (`false`: nothing chosen, the newest line in view stands for it).
pub fn selected(state: &State) -> Option<(usize, u64, bool)> {
    let (view, logs) = (&state.logview, &state.logs);
    let visible = view.visible_len(logs);
    if visible == 0 {
        return None;
    }
    if let Some(seq) = view.current
        && let Some(pos) = view.visible_pos(logs, seq)
    {
        return Some((pos, seq, true));
    }
    let pos = visible.saturating_sub(state.log_offset).max(1) - 1;
    Some((pos, view.visible_seq(logs, pos)?, false))
}

/// The panes' keys that mean something of their own while the logs pane has the focus; true when handled.
pub fn on_command(state: &mut State, command: Command) -> bool {
    match command {
        Command::Up => select_by(state, -1),
        Command::Down => select_by(state, 1),
        Command::PageUp => page_by(state, -1),
        Command::PageDown => page_by(state, 1),
        Command::Top => top(state),
        Command::Bottom => bottom(state),
        Command::Run => open_line(state),
        _ => return false,
    }
    true
}

/// Moves the selection `delta` lines (negative: older), the view following it.
pub fn select_by(state: &mut State, delta: isize) {
    let Some((pos, _, _)) = selected(state) else {
        return;
    };
    let last = state.logview.visible_len(&state.logs) - 1;
    place(state, pos.saturating_add_signed(delta).min(last));
}

/// PgUp / PgDn: the view moves a page and the selection with it, keeping its row.
pub fn page_by(state: &mut State, pages: isize) {
    let Some((pos, _, _)) = selected(state) else {
        return;
    };
    let page = state.log_page();
    let visible = state.logview.visible_len(&state.logs);
    let delta = pages.saturating_mul(page as isize);
    state.log_offset = state
        .log_offset
        .saturating_add_signed(-delta)
        .min(visible.saturating_sub(page));
    place(state, pos.saturating_add_signed(delta).min(visible - 1));
}

/// `g` / Home: the oldest line shown, selected.
pub fn top(state: &mut State) {
    if state.logview.visible_len(&state.logs) > 0 {
        place(state, 0);
    }
}

/// `G` / End: the newest line, following again (nothing selected).
pub fn bottom(state: &mut State) {
    state.log_offset = 0;
    state.logview.current = None;
}

/// Selects the shown line at `pos` and scrolls the least that puts it in view. Selecting the newest line with the
/// view at the bottom is following again.
fn place(state: &mut State, pos: usize) {
    let visible = state.logview.visible_len(&state.logs);
    let page = state.log_page();
    let end = visible.saturating_sub(state.log_offset).max(1);
    if pos >= end {
        state.log_offset = visible - 1 - pos;
    } else if pos + page < end {
        state.log_offset = visible - pos - page;
    }
    state.log_offset = state.log_offset.min(visible.saturating_sub(page));
    state.logview.current = if state.log_offset == 0 && pos + 1 == visible {
        None
    } else {
        state.logview.visible_seq(&state.logs, pos)
    };
}

/// `w`: wrap long lines, or cut them at the pane's edge again.
pub fn toggle_wrap(state: &mut State) {
    state.logview.wrap = !state.logview.wrap;
}

/// Columns `←`/`→` move: a quarter of the screen's width, at least 8.
pub fn pan_step(state: &State) -> usize {
    usize::from(state.width / 4).max(8)
}

/// `←` / `→`: scroll the lines sideways by a step (not while wrapping); never past the longest line in view.
pub fn pan(state: &mut State, right: bool) {
    if state.logview.wrap {
        state.flash =
            Some("Lines are wrapped: w cuts them at the edge again, then ←/→ scroll.".into());
        return;
    }
    let step = pan_step(state);
    if !right {
        state.logview.col = state.logview.col.saturating_sub(step);
        return;
    }
    // Bytes bound columns from above (no char is wider than its bytes), so this walks no text.
    let (view, logs) = (&state.logview, &state.logs);
    let end = view.visible_len(logs).saturating_sub(state.log_offset);
    let longest = (end.saturating_sub(state.log_page())..end)
        .filter_map(|pos| logs.get_seq(view.visible_seq(logs, pos)?))
        .map(|l| l.text.len())
        .max()
        .unwrap_or(0);
    let col = state.logview.col + step;
    if col < longest {
        state.logview.col = col;
    }
}

/// Enter in the logs pane: the selected line, whole, in an overlay.
pub fn open_line(state: &mut State) {
    match selected(state) {
        Some((_, seq, _)) => state.overlay = Some(Overlay::Line { seq, scroll: 0 }),
        None => state.flash = Some("No line to show.".into()),
    }
}

/// Columns and rows the overlay's text gets on a `width` x `height` screen (the view draws it so).
pub fn line_text_area(width: u16, height: u16) -> (usize, usize) {
    // The header row and the status bar stay; a border on each side.
    let cols = usize::from(width.min(LINE_MAX_WIDTH)).saturating_sub(2);
    let rows = usize::from(height)
        .saturating_sub(2 + 2)
        .saturating_sub(LINE_HEAD_ROWS);
    (cols.max(1), rows.max(1))
}

/// A key while a line is shown whole: scroll it (never past its end) or close.
pub fn on_line_command(state: &mut State, command: LineCommand) {
    let Some(Overlay::Line { seq, scroll }) = state.overlay else {
        return;
    };
    let (cols, rows) = line_text_area(state.width, state.height);
    let total = state.logs.get_seq(seq).map_or(1, |l| {
        layout::rows(layout::head(l.text, LINE_SHOWN_BYTES), cols).count()
    });
    let max = total.saturating_sub(rows);
    let scroll = match command {
        LineCommand::Close => {
            state.overlay = None;
            return;
        }
        LineCommand::Down => scroll + 1,
        LineCommand::Up => scroll.saturating_sub(1),
        LineCommand::PageDown => scroll + rows.saturating_sub(1).max(1),
        LineCommand::PageUp => scroll.saturating_sub(rows.saturating_sub(1).max(1)),
        LineCommand::Top => 0,
        LineCommand::Bottom => max,
    };
    state.overlay = Some(Overlay::Line {
        seq,
        scroll: scroll.min(max),
    });
}
