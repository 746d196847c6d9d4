//! The event loop: owns the terminal, feeds every input (keys, paste, resize, runner messages, timers, signals)
//! to `app::update`, carries out the effects, and draws only when the state changed — at most [`FRAME_INTERVAL`]
//! apart (a key, and the end of a stream of output, are drawn at once), and never while idle. The same loop serves a
//! release run ([`run`]: locked and journaled) and a `deckhand tail` session ([`tail`]: neither). May import app,
//! views, runner, journal and plan.

mod effects;
pub mod startup;
mod team;
pub mod terminal;

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::{FutureExt, StreamExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::app::{Action, Keypress, QuitState, Signal, State, update};
use crate::journal::{Event, Journal};
use crate::plan::Plan;
use crate::runner::RunnerEvent;
use effects::Executor;

/// Minimum time between two frames (30 fps cap).
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// Runner messages (each a batch of lines, up to 64 KiB from one read) that may wait unread before runners are
/// slowed down: at most 4 MiB of lines in flight under a flood, beside the ring's own bound.
const RUNNER_CHANNEL_CAPACITY: usize = 64;
/// Runner messages taken per wake-up.
const RUNNER_DRAIN: usize = 64;
/// While a prompt is open the loop wakes this often, so that it can tell when it did not run (see [`Liveness`]).
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(20);
/// A wake-up this long after the previous one (the heartbeat asks for 20 ms) means deckhand itself was stopped or
/// starved: two keys a person typed this far apart may have been read together. Faster than this, no one types.
const STALL_GAP: Duration = Duration::from_millis(50);

/// The runtime the console runs on: the console's own loop on the calling thread, the runners on one worker
/// per remaining core (at least one). One worker more than that only moved the runner tasks between the cores
/// the console thread needs (issue 17: on two cores a second worker halved the lines a flood got through, in
/// runs that alternated between fast and slow).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_sub(1).max(1))
        .enable_all()
        .build()
}

/// Exit code when another console already runs this plan in this environment.
pub const EXIT_BUSY: i32 = 4;

/// Runs the console for `plan`, journaling under `data_dir`. Returns the process exit code.
pub async fn run(plan: Plan, data_dir: &Path, wait: Option<Duration>) -> anyhow::Result<i32> {
    let mut startup = match startup::prepare(&plan, data_dir, &operator(), wait).await {
        Ok(s) => s,
        Err(startup::Refused::Held(why)) => {
            eprintln!("deckhand: {why}");
            return Ok(EXIT_BUSY);
        }
        Err(startup::Refused::Failed(why)) => anyhow::bail!(why),
    };
    let mut journal = Journal::create(data_dir, SystemTime::now())
        .with_context(|| format!("cannot create the run journal under {}", data_dir.display()))?;
    journal.set_masker(plan.secrets.masker());
    tracing::info!(run = journal.run_id(), journal = %journal.path().display(), "run started");
    startup
        .lock
        .update_run(journal.run_id(), journal.path())
        .context("cannot write the lock file")?;
    let (tx, rx) = mpsc::channel(RUNNER_CHANNEL_CAPACITY);
    // Started once the lock is ours (a refused second console must not fight the first for the tunnel's port).
    let tunnel = (plan.database.as_ref().and_then(|d| d.tunnel.clone()))
        .map(|spec| crate::runner::tunnel::Tunnel::start(spec, plan.secrets.masker()));
    if let Some(t) = &tunnel {
        tokio::spawn(crate::runner::forward(
            t.states(),
            tx.clone(),
            RunnerEvent::Tunnel,
        ));
    }
    let who = crate::team::Identity::current(operator(), host());
    let team = team::TeamRun::start(&plan, startup.team.take(), &journal, &tx, who);
    let mut exec = Executor::new(Some(journal), tx, operator());
    exec.set_team(team);
    if let Some(t) = &tunnel {
        exec.set_tunnel(t.gate());
    }
    exec.record(run_started(&plan))
        .context("cannot write the run journal")?;
    let previous = startup.previous.take();
    let result = session(plan, &mut exec, rx, |state| {
        state.release.operator = operator();
        let mut first = Vec::new();
        if let Some((previous, events)) = &previous {
            first.extend(crate::app::restore(state, previous, events));
        }
        first.extend(crate::app::start(state));
        first
    })
    .await;
    if let Some(t) = tunnel {
        t.stop().await;
    }
    exec.finish_team().await;
    let state = match result {
        Ok(state) => state,
        Err(e) => {
            let _ = exec.record(Event::Error {
                context: "event loop".into(),
                message: format!("{e:#}"),
            });
            let _ = exec.record(Event::Quit {
                exit_code: 1,
                reason: "deckhand failed".into(),
                outcome: Some(crate::journal::Outcome::Aborted),
            });
            return Err(e);
        }
    };
    if let Some(journal) = exec.journal() {
        // Never `eprintln!`: after a hang-up stderr is gone, and a failed write must not panic.
        let _ = writeln!(
            std::io::stderr(),
            "deckhand: journal {}",
            journal.path().display()
        );
    }
    drop(startup.lock);
    Ok(crate::app::release::outcome(&state).exit_code())
}

/// Runs the console as `deckhand tail`: the logs pane alone over `plan`'s `[[logs]]` sources, `filter` applied
/// from the start. No run lock, no journal: it releases nothing. Exit code 0 when the operator quits, 1 when a
/// signal or a lost terminal ended it.
pub async fn tail(plan: Plan, filter: Option<String>) -> anyhow::Result<i32> {
    let (tx, rx) = mpsc::channel(RUNNER_CHANNEL_CAPACITY);
    let mut exec = Executor::new(None, tx, operator());
    let state = session(plan, &mut exec, rx, |state| {
        crate::app::start_tail(state, filter.as_deref())
    })
    .await?;
    Ok(i32::from(state.aborted))
}

/// The console proper, for a release run or a tail session: takes the terminal, builds the state (`begin` says
/// what to do first), runs the event loop, stops every runner and gives the terminal back. Returns the final
/// state.
async fn session(
    plan: Plan,
    exec: &mut Executor,
    rx: mpsc::Receiver<RunnerEvent>,
    begin: impl FnOnce(&mut State) -> Vec<crate::app::Effect>,
) -> anyhow::Result<State> {
    // Handle signals before taking the terminal, so no signal can leave it in raw mode.
    let signals = Signals::new().context("cannot install signal handlers")?;
    terminal::install_panic_hook();
    let mut term = terminal::enter().context("cannot take over the terminal")?;
    let guard = terminal::RestoreGuard;
    let size = term.size().unwrap_or_default();
    let mut state = State::new(plan, Instant::now(), size.width, size.height);
    let first = begin(&mut state);
    let _ = exec.apply(first, &state);
    // https://no-color.org: read once, here; the views are handed the theme.
    let theme = crate::views::Theme::for_no_color(std::env::var_os("NO_COLOR").as_deref());
    let result = event_loop(&mut term, &mut state, exec, rx, signals, theme).await;
    exec.shutdown().await;
    drop(guard);
    // ratatui's Terminal shows the cursor when dropped and, when that fails, prints to stderr with `eprintln!`,
    // which panics on a terminal that went away (a hang-up, noticed or not): shown here instead, and when that
    // fails nothing is left to restore.
    if state.terminal_lost || term.show_cursor().is_err() {
        std::mem::forget(term);
    }
    result.map(|()| state)
}

async fn event_loop(
    term: &mut terminal::Term,
    state: &mut State,
    exec: &mut Executor,
    mut rx: mpsc::Receiver<RunnerEvent>,
    mut signals: Signals,
    theme: crate::views::Theme,
) -> anyhow::Result<()> {
    let mut events = EventStream::new();
    let mut batch = Vec::with_capacity(RUNNER_DRAIN);
    let mut last_draw: Option<Instant> = None;
    let mut queue: VecDeque<Action> = VecDeque::new();
    let mut alive = Liveness::default();
    // What the operator typed, and the end of a stream of output, are drawn at once; only what changes by itself
    // (a flood) waits for its frame.
    let mut at_once = false;
    let mut hung_up = terminal::HangupWatch::start().spawn();
    loop {
        queue.extend(draw_if_due(term, state, &mut last_draw, theme, at_once));
        at_once = false;
        fault_injection(state);
        if queue.is_empty() {
            let draw_at = (state.dirty && !state.terminal_lost).then(|| next_frame(last_draw));
            let tick_at = state.next_tick();
            let beat_at = alive.next_beat(state);
            let mut read = None;
            // Biased: keys waiting in the terminal are always taken first, so a wake-up that reads none means the
            // typed input has been read up to now (what `Liveness` needs to know a stall is over).
            tokio::select! {
                biased;
                ev = events.next(), if !state.terminal_lost => read = Some(ev),
                _ = signals.hup.recv() => queue.push_back(Action::Signal(Signal::Hangup)),
                _ = signals.term.recv() => queue.push_back(Action::Signal(Signal::Terminate)),
                _ = signals.int.recv() => queue.push_back(Action::Signal(Signal::Interrupt)),
                n = rx.recv_many(&mut batch, RUNNER_DRAIN) => {
                    if n > 0 {
                        at_once = batch.iter().any(RunnerEvent::ends_output);
                        queue.extend(batch.drain(..).map(Action::Runner));
                    }
                }
                _ = sleep_until(tick_at) => queue.push_back(Action::Tick),
                _ = sleep_until(draw_at) => {}
                _ = sleep_until(beat_at) => {}
                Some(()) = hung_up.recv(), if !state.terminal_lost => {
                    queue.push_back(Action::TerminalLost("the terminal hung up".into()));
                }
            }
            at_once |= read.is_some();
            let stalled = alive.woke(Instant::now(), read.is_some());
            read_terminal(&mut events, read, stalled, &mut queue);
        }
        while let Some(action) = queue.pop_front() {
            let effects = update(state, action, Instant::now());
            queue.extend(exec.apply(effects, state));
        }
        if exec.quit || state.quit == QuitState::Done {
            return Ok(());
        }
    }
}

/// Tells a stall of deckhand itself (SIGSTOP, a starved host) from an idle wait: while a prompt is open the loop
/// wakes every [`HEARTBEAT_INTERVAL`], so a wake-up much later than that means the process did not run, and the
/// keys read next were typed meanwhile (they arrive together, yet they are typing, not a paste). Every key read
/// until the loop has caught up with the terminal — a wake-up that finds no key waiting — counts as typed during
/// the stall, whatever deckhand's own pace of reading them.
#[derive(Default)]
struct Liveness {
    /// The last wake-up while the heartbeat ran.
    last: Option<Instant>,
    /// A stall was noticed and the keys typed during it may not all have been read yet.
    catching_up: bool,
}

impl Liveness {
    /// When the loop must wake next to keep its heartbeat: only while a prompt waits for keys.
    fn next_beat(&mut self, state: &State) -> Option<Instant> {
        if state.modal.is_none() {
            self.last = None;
            return None;
        }
        let last = *self.last.get_or_insert_with(Instant::now);
        Some(last + HEARTBEAT_INTERVAL)
    }

    /// The loop woke at `now`, with a key read or not: true while the keys read are ones typed during a stall
    /// (it slept far past its heartbeat, and has not yet found the terminal without a key waiting).
    fn woke(&mut self, now: Instant, key_read: bool) -> bool {
        let Some(last) = self.last else {
            self.catching_up = false;
            return false;
        };
        self.last = Some(now);
        if now.saturating_duration_since(last) > STALL_GAP {
            self.catching_up = true;
        } else if !key_read {
            self.catching_up = false;
        }
        self.catching_up
    }
}

/// The signals that end a run, registered before the terminal is taken over.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// Draws when something changed and the frame interval allows — `at_once` after typed input (a key never waits
/// for the frame slot a flood of lines is using) or the end of a stream of output; a failed draw means the
/// terminal is gone. Returns what the frame tells `update`: that a prompt is on screen, and how its context fitted.
fn draw_if_due(
    term: &mut terminal::Term,
    state: &mut State,
    last_draw: &mut Option<Instant>,
    theme: crate::views::Theme,
    at_once: bool,
) -> Vec<Action> {
    if !state.dirty || state.terminal_lost {
        return Vec::new();
    }
    let now = Instant::now();
    if !at_once && last_draw.is_some_and(|t| now < t + FRAME_INTERVAL) {
        return Vec::new();
    }
    *last_draw = Some(now);
    state.dirty = false;
    let mut fit = None;
    let drawn = term.draw(|f| {
        crate::views::render_with(f, state, theme);
        fit = crate::views::modal_fit(state, f.area());
    });
    let mut out = Vec::new();
    match (drawn, state.modal.as_ref()) {
        (Err(e), _) => out.push(Action::TerminalLost(format!("drawing failed: {e}"))),
        (Ok(_), Some(m)) => {
            // The guard of a confirmation runs from the moment the operator can see it.
            if m.shown.is_none() {
                out.push(Action::ModalShown);
            }
            if let Some(fit) = fit.filter(|f| m.fit != Some(*f)) {
                out.push(Action::ModalFit(fit));
            }
        }
        (Ok(_), None) => {}
    }
    out
}

/// Test hook: `DECKHAND_FAULT=panic` panics once the first checklist item is ticked, so the end-to-end tests can
/// prove the terminal is restored after a panic in the real binary.
fn fault_injection(state: &State) {
    if state.checked.first() == Some(&true)
        && std::env::var_os("DECKHAND_FAULT").is_some_and(|v| v == "panic")
    {
        panic!("fault injected by DECKHAND_FAULT=panic");
    }
}

fn next_frame(last_draw: Option<Instant>) -> Instant {
    last_draw.map_or_else(Instant::now, |t| t + FRAME_INTERVAL)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Queues what was read from the terminal in this wake-up. After a stall, every event already buffered is read
/// now too, and all of them are marked as typed during the stall: they arrive together although a person typed
/// them one by one, and deckhand's own pace must not split them into a run that looks like a paste.
fn read_terminal(
    events: &mut EventStream,
    first: Option<Option<std::io::Result<TermEvent>>>,
    stalled: bool,
    queue: &mut VecDeque<Action>,
) {
    let mut closed = false;
    if let Some(ev) = first {
        closed = ev.is_none();
        queue.extend(terminal_action(ev, stalled));
    }
    while stalled && !closed {
        let Some(ev) = events.next().now_or_never() else {
            break;
        };
        closed = ev.is_none();
        queue.extend(terminal_action(ev, true));
    }
}

fn terminal_action(ev: Option<std::io::Result<TermEvent>>, after_stall: bool) -> Option<Action> {
    match ev {
        Some(Ok(TermEvent::Key(k))) => Some(Action::Key(Keypress {
            event: k,
            read: Some(Instant::now()),
            after_stall,
        })),
        Some(Ok(TermEvent::Paste(s))) => Some(Action::Paste(s)),
        Some(Ok(TermEvent::Resize(width, height))) => Some(Action::Resize { width, height }),
        Some(Ok(_)) => None,
        Some(Err(e)) => Some(Action::TerminalLost(format!(
            "reading the terminal failed: {e}"
        ))),
        None => Some(Action::TerminalLost("the terminal closed".into())),
    }
}

/// The journal's first entry: who runs what, from where.
pub fn run_started(plan: &Plan) -> Event {
    Event::RunStarted {
        user: operator(),
        host: host(),
        ssh_client: std::env::var("SSH_CLIENT").ok().filter(|s| !s.is_empty()),
        plan: startup::plan_path(plan).display().to_string(),
        plan_checksum: plan.checksum.clone(),
        project: plan.project.name.clone(),
        environment: plan.project.environment.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
    }
}

/// This machine's name, as the journal and the lock record it.
pub fn host() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// The login name, and who used sudo to become it.
pub fn operator() -> String {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid {uid}"));
    match std::env::var("SUDO_USER") {
        Ok(by) if !by.is_empty() && by != name => format!("{name} (sudo by {by})"),
        _ => name,
    }
}
