//! The migration preview pane: each migration with its status in colour, the selected one's SQL with line
//! numbers (scrollable), progress while applying, and the last result.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Theme, safe};
use crate::app::{DbView, DbWork, DriftView, Operation, RollbackWork, State};
use crate::lint::{Class, FileReport, Finding};
use crate::migrate::status::State as MState;

pub fn render(frame: &mut Frame, area: Rect, block: Block<'static>, state: &State, t: Theme) {
    let db = &state.db;
    let snap = match &db.view {
        DbView::NotConfigured => return super::placeholder::migrations(frame, area, block, t),
        DbView::Loading => {
            let text = format!(
                "Reading migration status from {}…",
                crate::app::database_target(state)
            );
            let lines = [Some(Line::raw(text)), tunnel_line(state, t)];
            let lines: Vec<Line<'static>> = lines.into_iter().flatten().collect();
            return frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(block),
                area,
            );
        }
        DbView::Failed(e) => {
            let mut lines = vec![
                Line::styled("Cannot read the migration status:", t.danger()),
                Line::raw(safe(e).into_owned()),
            ];
            lines.extend(tunnel_line(state, t));
            lines.extend([Line::raw(""), Line::styled("r reads it again.", t.muted())]);
            return frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(block),
                area,
            );
        }
        DbView::Ready(s) => s,
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let entries = &snap.status.entries;
    // Summary, entries and the progress line, one screen line each; the rest is detail (wrapped).
    let list_height = (entries.len() as u16 + 2).min(inner.height / 2).max(3);
    let [list_area, sql_area] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(1)]).areas(inner);

    let mut lines = vec![summary(state, snap, t)];
    let visible = usize::from(list_height.saturating_sub(2)).max(1);
    let first = db.selected.saturating_sub(visible.saturating_sub(1));
    for (i, e) in entries.iter().enumerate().skip(first).take(visible) {
        lines.push(entry_line(state, t, snap, i, e));
    }
    lines.push(status_line(state, t));
    frame.render_widget(Paragraph::new(lines), list_area);
    render_sql(frame, sql_area, state, t, snap);
}

/// The dry-run result for a migration, short: ("ok 12 ms", false) or ("FAILED line 3", true).
fn rehearsal_of(state: &State, name: &str) -> Option<(String, bool)> {
    use crate::migrate::apply::Rehearsal;
    state.db.rehearsal.as_ref()?.iter().find_map(|r| match r {
        Rehearsal::Ok { name: n, took } if n == name => {
            Some((format!("ok {}", crate::plan::human_duration(*took)), false))
        }
        Rehearsal::Failed { name: n, failure } if n == name => Some((
            format!("FAILED line {}: {}", failure.line, failure.message),
            true,
        )),
        Rehearsal::NotRehearsable { name: n, .. } if n == name => {
            Some(("not rehearsable".into(), false))
        }
        Rehearsal::NotReached { name: n } if n == name => Some(("not reached".into(), false)),
        _ => None,
    })
}

/// The rehearsal-on-a-restored-copy result for a migration, short.
fn copy_rehearsal_of(state: &State, name: &str) -> Option<(String, bool)> {
    use crate::backup::RehearsalStep;
    let report = state.backup.rehearsal.as_ref()?;
    report.steps.iter().find_map(|s| match s {
        RehearsalStep::Applied { name: n, took } if n == name => {
            Some((format!("ok {}", crate::plan::human_duration(*took)), false))
        }
        RehearsalStep::Failed { name: n, error, .. } if n == name => {
            let first = error.lines().next().unwrap_or_default();
            Some((format!("FAILED: {first}"), true))
        }
        RehearsalStep::NotReached { name: n } if n == name => Some(("not reached".into(), false)),
        _ => None,
    })
}

fn entry_line(
    state: &State,
    t: Theme,
    snap: &crate::runner::migrate::Snapshot,
    i: usize,
    e: &crate::migrate::status::Entry,
) -> Line<'static> {
    let style = state_style(e.state, t);
    let mark = match e.state {
        MState::Applied => "✓ ",
        MState::Pending => "o ",
        _ => "! ",
    };
    let no_tx = e
        .local
        .and_then(|l| snap.migrations.get(l))
        .is_some_and(|m| m.no_transaction.is_some());
    let mut spans = vec![
        Span::styled(mark, style),
        Span::raw(safe(&e.name).into_owned()),
        Span::styled(format!("  {}", e.state.label()), style),
    ];
    if no_tx {
        spans.push(Span::styled("  no-tx", t.warn()));
    }
    if let Some(report) = e
        .local
        .and_then(|l| snap.reports.get(l))
        .and_then(Option::as_ref)
    {
        spans.extend(risk_summary(report, t));
    }
    spans.extend(super::down_file::flag(state, snap, e, t));
    if let Some((text, failed)) = copy_rehearsal_of(state, &e.name) {
        let style = if failed { t.danger() } else { t.muted() };
        spans.push(Span::styled(format!("  on a copy: {text}"), style));
    }
    if let Some((text, failed)) = rehearsal_of(state, &e.name) {
        let style = if failed { t.danger() } else { t.muted() };
        spans.push(Span::styled(format!("  dry-run: {text}"), style));
    }
    let line = Line::from(spans);
    if state.db.selection().contains(&i) {
        line.patch_style(Style::new().add_modifier(Modifier::REVERSED))
    } else {
        line
    }
}

/// Colour of a risk class.
pub(super) fn class_style(c: Class, t: Theme) -> Style {
    match c {
        Class::Dangerous => t.danger().add_modifier(Modifier::BOLD),
        Class::Breaking => t.breaking(),
        Class::Locking => t.locking(),
        Class::Safe => t.ok(),
    }
}

/// The gutter mark of a class on SQL lines.
fn class_mark(c: Class) -> &'static str {
    match c {
        Class::Dangerous => "D",
        Class::Breaking => "B",
        Class::Locking => "L",
        Class::Safe => " ",
    }
}

/// `  1 dangerous 2 locking` after a migration's name (exempted findings not counted); `  safe` when clean.
fn risk_summary(report: &FileReport, t: Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for class in [Class::Dangerous, Class::Breaking, Class::Locking] {
        let n = report
            .findings
            .iter()
            .filter(|f| f.class == class && f.ignored.is_none())
            .count();
        if n > 0 {
            spans.push(Span::styled(
                format!("  {n} {}", class.label()),
                class_style(class, t),
            ));
        }
    }
    // What the live data says first: a statement that will fail is worse than any class.
    let fails = report.impacts.iter().filter(|i| i.fails()).count();
    if fails > 0 {
        spans.insert(0, Span::styled(format!("  {fails} will fail"), t.danger()));
    }
    if spans.is_empty() {
        spans.push(Span::styled("  safe", class_style(Class::Safe, t)));
    }
    spans
}

/// What each statement does to the live data, in the detail area: what fails first, then what is lost, then what
/// could not be counted, then what passes.
fn impact_lines(report: &FileReport, t: Theme) -> Vec<Line<'static>> {
    let mut ranked: Vec<(u8, Line<'static>)> = report
        .impacts
        .iter()
        .map(|i| {
            let (rank, label, style) = if i.fails() {
                (0, "✗ WILL FAIL", t.danger())
            } else if i.loses() {
                (1, "! DATA LOSS", t.warn())
            } else if i.matters() {
                (2, "? UNCOUNTED", t.warn())
            } else {
                (3, "✓ DATA", t.muted())
            };
            let text = format!(" line {}: {}", i.line, i.text);
            let line = Line::from(vec![
                Span::styled(label, style),
                Span::raw(safe(&text).into_owned()),
            ]);
            (rank, line)
        })
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, line)| line).collect()
}

/// What the comparison of the live schema with the applied history said, above the selected migration.
fn drift_lines(state: &State, t: Theme) -> Vec<Line<'static>> {
    match &state.db.drift {
        DriftView::Unknown => Vec::new(),
        DriftView::Checking => vec![Line::styled(
            "comparing the schema with the applied history (drift)…",
            t.muted(),
        )],
        DriftView::Failed(why) => vec![Line::styled(
            format!("? drift not checked: {}", safe(why)),
            t.warn(),
        )],
        // No drift is said in the apply confirmation; here the lines go to the SQL.
        DriftView::Ready(r) if !r.has_drift() => Vec::new(),
        DriftView::Ready(r) => {
            let mut out = vec![Line::styled(
                format!(
                    "≠ DRIFT: {} difference(s) from what the applied migrations produce (a asks why)",
                    r.differences.len()
                ),
                t.danger().add_modifier(Modifier::BOLD),
            )];
            out.extend(
                r.differences
                    .iter()
                    .map(|d| Line::styled(format!("  {}", safe(&d.message)), t.danger())),
            );
            out
        }
    }
}

fn state_style(s: MState, t: Theme) -> Style {
    match s {
        MState::Applied => t.ok(),
        MState::Pending => t.warn(),
        _ => t.danger().add_modifier(Modifier::BOLD),
    }
}

fn summary(state: &State, snap: &crate::runner::migrate::Snapshot, t: Theme) -> Line<'static> {
    let st = &snap.status;
    // Counts first: on a narrow screen the end of the line is what gets cut.
    let counts = format!(
        "{} applied, {} pending",
        st.count(MState::Applied),
        st.count(MState::Pending)
    );
    let mut spans = vec![Span::styled(
        counts,
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let range = state.db.selection().count();
    if state.db.anchor.is_some() {
        spans.push(Span::styled(
            format!(", {range} selected"),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    let problems = st.problems().len();
    if problems > 0 {
        spans.push(Span::styled(
            format!(", {problems} need resolving"),
            t.danger().add_modifier(Modifier::BOLD),
        ));
    }
    if !st.invalid_indexes.is_empty() {
        spans.push(Span::styled(
            format!(", {} invalid index", st.invalid_indexes.len()),
            t.danger(),
        ));
    }
    if let DriftView::Ready(r) = &state.db.drift
        && r.has_drift()
    {
        spans.push(Span::styled(
            format!(", DRIFT {}", r.differences.len()),
            t.danger().add_modifier(Modifier::BOLD),
        ));
    }
    // Before the target: at 80 columns the end of the line is cut.
    match &state.db.tunnel {
        Some(s) if s.is_up() => spans.push(Span::styled(" · via tunnel", t.muted())),
        Some(_) => spans.push(Span::styled(
            ", TUNNEL DOWN",
            t.danger().add_modifier(Modifier::BOLD),
        )),
        None => {}
    }
    spans.push(Span::styled(
        format!(" · {} · {}", snap.format, st.target),
        t.muted(),
    ));
    Line::from(spans)
}

/// `Tunnel: up (pid 4242)`, `Tunnel: DOWN: the tunnel exited with status 1: … (restarting in 2s)`, when there is one.
fn tunnel_line(state: &State, t: Theme) -> Option<Line<'static>> {
    let s = state.db.tunnel.as_ref()?;
    let style = if s.is_up() { t.ok() } else { t.warn() };
    Some(Line::styled(
        format!("Tunnel: {}", safe(&s.describe())),
        style,
    ))
}

/// What is happening now, or what happened last.
fn status_line(state: &State, t: Theme) -> Line<'static> {
    let db = &state.db;
    let reverting = Operation::Rollback {
        work: RollbackWork::Reverting,
        cancelling: false,
    };
    let text = match (state.op, &db.current) {
        (Some(Operation::Db(DbWork::Applying)), _) if db.waiting.is_some() => {
            let style = t.warn().add_modifier(Modifier::BOLD);
            let text = db.waiting.as_ref().map(crate::app::text::lock_wait_line);
            return Line::styled(safe(&text.unwrap_or_default()).into_owned(), style);
        }
        (Some(Operation::Db(DbWork::Applying)), Some((name, done, of))) => {
            format!("applying {name}: statement {done}/{of}…")
        }
        (Some(Operation::Db(DbWork::Applying)), None) => {
            format!("applying… {} done", db.applied_now.len())
        }
        (Some(Operation::Db(DbWork::Rehearsing)), _) => {
            "dry-run under way (will roll back)…".into()
        }
        (Some(Operation::Db(DbWork::Resolving)), _) => match &db.resolving {
            Some(r) if r.items.len() > 1 => format!("resolving {} migrations…", r.items.len()),
            _ => "resolving…".into(),
        },
        (Some(Operation::Db(DbWork::DroppingIndex)), _) => match &db.dropping {
            Some(i) => format!(
                "dropping invalid index {} (CONCURRENTLY)…",
                i.display_name()
            ),
            None => "dropping an invalid index…".into(),
        },
        (Some(op), _) if op == reverting => "rollback: running down migrations…".into(),
        _ if db.loading => "reading status…".into(),
        _ => db.last.clone().unwrap_or_default(),
    };
    let style = if text.contains("FAILED") {
        t.danger()
    } else {
        t.muted()
    };
    Line::styled(safe(text.lines().next().unwrap_or("")).into_owned(), style)
}

fn render_sql(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    t: Theme,
    snap: &crate::runner::migrate::Snapshot,
) {
    let db = &state.db;
    let Some(entry) = snap.status.entries.get(db.selected) else {
        return;
    };
    let mut lines = waiting_lines(state, t);
    lines.extend(last_result_lines(state, t));
    lines.extend(drift_lines(state, t));
    let Some(m) = entry.local.and_then(|i| snap.migrations.get(i)) else {
        let text = format!(
            "{}: {}",
            entry.name,
            entry.detail.clone().unwrap_or_default()
        );
        lines.push(Line::raw(safe(&text).into_owned()));
        return frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
    };
    lines.extend(snap.status.invalid_indexes.iter().map(|index| {
        let (name, table) = (index.display_name(), &index.table);
        let text =
            format!("! INVALID index {name} on {table} (a failed CONCURRENTLY build): X drops it");
        Line::styled(safe(&text).into_owned(), t.danger())
    }));
    lines.push(Line::styled(format!("── {} ", m.path.display()), t.muted()));
    if let Some(why) = &m.no_transaction {
        lines.push(Line::styled(
            format!("runs statement by statement, outside a transaction: {why}"),
            t.warn(),
        ));
    }
    let report = entry
        .local
        .and_then(|i| snap.reports.get(i))
        .and_then(Option::as_ref);
    if let Some(r) = report {
        lines.push(Line::styled(r.atomicity.summary.clone(), t.muted()));
        lines.extend(impact_lines(r, t));
        for f in &r.findings {
            lines.extend(finding_lines(f, t));
        }
        for text in &r.atomicity.on_failure {
            lines.push(Line::styled(format!("  {}", safe(text)), t.warn()));
        }
    }
    lines.extend(super::down_file::lines(state, snap, entry, t));
    let total = m.sql.lines().count();
    let width = total.to_string().len();
    let first = db.sql_scroll.min(total.saturating_sub(1));
    for (n, text) in m
        .sql
        .lines()
        .enumerate()
        .skip(first)
        .take(usize::from(area.height))
    {
        let worst = report
            .into_iter()
            .flat_map(|r| &r.findings)
            .filter(|f| f.line == n + 1 && f.ignored.is_none())
            .map(|f| f.class)
            .max()
            .unwrap_or(Class::Safe);
        lines.push(Line::from(vec![
            Span::styled(class_mark(worst), class_style(worst, t)),
            Span::styled(format!("{:>width$} ", n + 1), t.muted()),
            Span::raw(safe(text).into_owned()),
        ]));
    }
    // Wrapped, not cut: every character of what will run must be readable.
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// The last result's lines after its first (which the status line shows): a failed statement's SQL and, after a
/// lock timeout, who held the lock and what to do. Not while something runs.
fn last_result_lines(state: &State, t: Theme) -> Vec<Line<'static>> {
    let Some(last) = state.db.last.as_ref().filter(|_| state.op.is_none()) else {
        return Vec::new();
    };
    let style = if last.contains("FAILED") {
        t.danger()
    } else {
        t.muted()
    };
    last.lines()
        .skip(1)
        .map(|l| Line::styled(safe(l).into_owned(), style))
        .collect()
}

/// While an apply waits for a lock: what for, how long and until when, every holder in full, and what the
/// operator can do (deckhand goes on by itself; it never ends a session).
fn waiting_lines(state: &State, t: Theme) -> Vec<Line<'static>> {
    use crate::migrate::lock::Waited;
    let Some(w) = state.db.waiting.as_ref() else {
        return Vec::new();
    };
    let limit = state.plan.database.as_ref().map(|d| match w.lock {
        Waited::Migration { .. } => ("lock wait", d.lock_wait),
        Waited::Object { .. } => ("lock_timeout", d.lock_timeout),
    });
    let mut head = format!(
        "! Waiting {} for {}",
        crate::plan::human_duration(w.waited),
        w.lock
    );
    if let Some((name, d)) = limit {
        head.push_str(&format!(
            "; gives up after {} ({name})",
            crate::plan::human_duration(d)
        ));
    }
    let mut lines = vec![Line::styled(
        safe(&head).into_owned(),
        t.warn().add_modifier(Modifier::BOLD),
    )];
    for h in &w.holders {
        lines.push(Line::styled(
            safe(&format!("  held by {h}")).into_owned(),
            t.warn(),
        ));
    }
    let pids: Vec<String> = w
        .holders
        .iter()
        .filter(|h| !h.is_prepared())
        .map(|h| format!("SELECT pg_terminate_backend({})", h.pid))
        .collect();
    let what = if w.holders.is_empty() {
        "  who holds it cannot be seen (it may have just ended, or this role cannot read other sessions in \
         pg_stat_activity); deckhand goes on by itself once the lock is free"
            .to_string()
    } else if pids.is_empty() {
        "  deckhand goes on by itself once the lock is free".to_string()
    } else {
        format!(
            "  deckhand goes on by itself once the lock is free; to free it sooner, end the holder yourself if you \
             are sure: {} — deckhand never ends a session",
            pids.join("; ")
        )
    };
    lines.push(Line::styled(what, t.muted()));
    lines
}

/// A finding in the detail area: class, line and rule; why; the safer pattern; live context.
fn finding_lines(f: &Finding, t: Theme) -> Vec<Line<'static>> {
    let style = class_style(f.class, t);
    let mut head = vec![
        Span::styled(
            format!("{} {}", class_mark(f.class), f.class.label().to_uppercase()),
            style,
        ),
        Span::raw(format!(" line {} {}", f.line, f.rule)),
    ];
    if let Some(reason) = &f.ignored {
        head.push(Span::styled(
            format!(" (ignored: {})", safe(reason)),
            t.muted(),
        ));
    }
    let mut lines = vec![Line::from(head)];
    lines.push(Line::raw(format!("  {}", f.why)));
    lines.push(Line::styled(format!("  safer: {}", f.safer), t.muted()));
    for c in &f.context {
        lines.push(Line::styled(format!("  live: {}", safe(c)), t.focus()));
    }
    lines
}
