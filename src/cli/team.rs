//! `deckhand team init [PLAN]` creates (or upgrades) the team schema; `deckhand team status [PLAN]` shows who is
//! releasing what, from every host. Also the team's side of `history` and `report` and of `deckhand migrate`.
//! Exit codes: 0 done, 1 the team database could not be used, 2 bad usage (no `[team]`).

use std::path::PathBuf;

use deckhand::plan::{self, Plan, Team};
use deckhand::team;

#[derive(clap::Args, Debug)]
pub struct Flags {
    #[command(subcommand)]
    pub command: TeamCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum TeamCommand {
    /// Create the team schema in the [team] database, or bring it up to this deckhand's version
    Init {
        #[arg(default_value = "deckhand.toml")]
        plan: PathBuf,
    },
    /// Who is releasing what, on every host; exit 0
    Status {
        #[arg(default_value = "deckhand.toml")]
        plan: PathBuf,
    },
}

pub fn run(flags: &Flags) -> u8 {
    let (TeamCommand::Init { plan } | TeamCommand::Status { plan }) = &flags.command;
    let (plan, team) = match load(plan) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(rt) = super::backup::runtime() else {
        return 1;
    };
    let masker = plan.secrets.masker();
    let result = match &flags.command {
        TeamCommand::Init { .. } => rt.block_on(team::schema::init(&team)).map(|done| {
            if done.from == done.to {
                say!(
                    "team schema \"{}\" on {} is up to date (version {})",
                    done.schema,
                    done.target,
                    done.to
                );
            } else {
                say!(
                    "team schema \"{}\" on {}: version {} → {}",
                    done.schema,
                    done.target,
                    done.from,
                    done.to
                );
            }
        }),
        TeamCommand::Status { .. } => rt.block_on(team::status::releases(&team)).map(|rows| {
            print_status(&team, &rows);
        }),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            tell!("deckhand: {}", masker.mask(&e.to_string()));
            1
        }
    }
}

/// The plan and its `[team]`; the exit code when it cannot be had.
fn load(path: &std::path::Path) -> Result<(Plan, Team), u8> {
    let plan = plan::load(path).map_err(|e| {
        tell!("deckhand: invalid plan: {e}");
        2
    })?;
    match plan.team.clone() {
        Some(team) => Ok((plan, team)),
        None => {
            tell!(
                "deckhand: {} has no [team] section: expected [team] database = \"${{DECKHAND_TEAM_URL}}\"",
                path.display()
            );
            Err(2)
        }
    }
}

fn print_status(team: &Team, rows: &[team::lock::Holder]) {
    let live: Vec<_> = rows.iter().filter(|h| h.live).collect();
    if live.is_empty() {
        say!(
            "Nobody is releasing (team database {}).",
            team::target(team)
        );
    }
    for h in &live {
        say!("{} {}: {}", h.project, h.environment, h.describe());
    }
    for h in rows.iter().filter(|h| !h.live) {
        say!(
            "{} {}: last released by {} (session gone; the lock is free)",
            h.project,
            h.environment,
            h.describe()
        );
    }
}

/// After `deckhand migrate`: its journal copied to the team database (what cannot be copied now is caught up by
/// the next console), the release lock released.
pub async fn after_run(
    plan: &Plan,
    lock: Option<team::lock::TeamLock>,
    journal: &deckhand::journal::Journal,
) {
    if let Some(t) = &plan.team {
        let run = [(journal.run_id().to_string(), journal.path().to_path_buf())];
        if let Err(e) = team::sync::catch_up(t, &run).await {
            tell!(
                "deckhand: the team journal is behind (the local journal keeps everything): {}",
                plan.secrets.masker().mask(&e.to_string())
            );
        }
    }
    if let Some(l) = lock {
        l.release().await;
    }
}

/// `deckhand history PLAN` with `[team]`: the team's runs of the plan's project. `None` without `[team]`.
pub fn history(plan: &Plan) -> Option<Result<Vec<deckhand::journal::RunSummary>, String>> {
    let team = plan.team.as_ref()?;
    let rt = super::backup::runtime()?;
    Some(
        rt.block_on(team::status::runs(team, Some(&plan.project.name), 500))
            .map_err(|e| plan.secrets.masker().mask(&e.to_string()).into_owned()),
    )
}

/// `deckhand report --plan PLAN [RUN]` with `[team]`: the team's copy of the run, rendered to stdout.
pub fn report(plan: &Plan, run: Option<&str>) -> u8 {
    let Some(team) = plan.team.as_ref() else {
        tell!(
            "deckhand: {} has no [team] section: the report is read from this host's journal without --plan",
            plan.path.display()
        );
        return 2;
    };
    let Some(rt) = super::backup::runtime() else {
        return 1;
    };
    match rt.block_on(team::status::journal(team, run)) {
        Ok((_, entries)) => {
            use std::io::Write as _;
            let _ = std::io::stdout()
                .lock()
                .write_all(deckhand::journal::render(&entries).as_bytes());
            0
        }
        Err(e) => {
            tell!("deckhand: {}", plan.secrets.masker().mask(&e.to_string()));
            1
        }
    }
}

/// `deckhand watch [PLAN] [RUN]` (or `RUN`, or `PROJECT ENV`, with `DECKHAND_TEAM_URL`): follows a run from the
/// team database (the one releasing now, else the newest; or RUN), one line per journal entry, until it ends. Exit
/// 0 when it ended and recorded its end, 1 when its console went without one or the team database could not be
/// used, 2 bad usage.
pub fn watch(flags: &TargetFlags) -> u8 {
    let s = match super::scope::scope(&flags.target, flags.env.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(rt) = super::backup::runtime() else {
        return 1;
    };
    let place = s.project.as_deref().zip(s.environment.as_deref());
    let followed = rt.block_on(async {
        let id = team::watch::pick(&s.team, s.run.as_deref(), place).await?;
        say!("watching run {id} (read-only; Ctrl-C stops watching)");
        let mut show =
            |e: &deckhand::journal::Entry| say!("{}", deckhand::console::startup::line(e));
        team::watch::follow(&s.team, &id, &mut show).await
    });
    match followed {
        Ok(team::watch::Ended::Quit { exit_code, reason }) => {
            say!("the run ended: {reason} (exit {exit_code})");
            0
        }
        Ok(team::watch::Ended::Gone) => {
            say!("the run's console is gone without recording an end (killed or cut off)");
            1
        }
        Err(e) => {
            tell!("deckhand: {}", s.masker.mask(&e.to_string()));
            1
        }
    }
}

/// What `watch` and `approve` are about.
#[derive(clap::Args, Debug)]
pub struct TargetFlags {
    /// `[PLAN] [RUN]` (a plan with [team]; RUN an id or a unique prefix), or with DECKHAND_TEAM_URL set and no plan:
    /// `RUN` or `PROJECT ENV`
    pub target: Vec<String>,
    /// The plan's environment (one of its [environments.NAME]; default: [project] environment)
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ApproveFlags {
    #[command(flatten)]
    pub target: TargetFlags,
    /// The request to decide, when several wait
    #[arg(long)]
    pub id: Option<i64>,
    /// Refuse the request instead of approving it
    #[arg(long)]
    pub refuse: bool,
    /// Decide without asking to type `approve` (or `refuse`) first
    #[arg(long)]
    pub yes: bool,
}

/// `deckhand approve [PLAN] [RUN]` (or `RUN`, or `PROJECT ENV`, with `DECKHAND_TEAM_URL`): shows the requests
/// waiting for a second operator — exactly what their operator confirmed — and approves (or with `--refuse`
/// refuses) one after `approve` (`refuse`) is typed, or at once with `--yes`. Exit 0 decided, 1 nothing waiting,
/// the team database unusable, or the request is yours, 2 bad usage.
pub fn approve(flags: &ApproveFlags) -> u8 {
    let s = match super::scope::scope(&flags.target.target, flags.target.env.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(rt) = super::backup::runtime() else {
        return 1;
    };
    let place = s.project.as_deref().zip(s.environment.as_deref());
    let waiting = match rt.block_on(team::approve::waiting(&s.team, place, s.run.as_deref())) {
        Ok(w) => w,
        Err(e) => {
            tell!("deckhand: {}", s.masker.mask(&e.to_string()));
            return 1;
        }
    };
    let chosen = match (flags.id, waiting.as_slice()) {
        (_, []) => {
            tell!("deckhand: nothing waits for approval there");
            return 1;
        }
        (Some(id), all) => all.iter().find(|w| w.id == id),
        (None, [one]) => Some(one),
        (None, _) => None,
    };
    for w in &waiting {
        say!(
            "request {}: {} ({} {})",
            w.id,
            w.action,
            w.project,
            w.environment
        );
        say!(
            "  asked by {} on {} at {} in run {} (times out {})",
            w.requested_by,
            w.requested_on,
            w.requested_at,
            w.run_id,
            w.expires_at
        );
        for line in w.detail.lines() {
            say!("  {line}");
        }
    }
    let Some(chosen) = chosen else {
        tell!("deckhand: choose the request with --id (the ones waiting are listed above)");
        return 2;
    };
    let word = if flags.refuse { "refuse" } else { "approve" };
    if !flags.yes && !typed(word) {
        tell!("deckhand: not {word}d; request {} still waits", chosen.id);
        return 1;
    }
    let me = team::Identity::current(deckhand::console::operator(), deckhand::console::host());
    match rt.block_on(team::approve::decide(
        &s.team,
        chosen.id,
        &me,
        !flags.refuse,
    )) {
        Ok(()) => {
            say!("request {} {word}d by {}", chosen.id, me.name());
            0
        }
        Err(e) => {
            tell!("deckhand: {}", s.masker.mask(&e.to_string()));
            1
        }
    }
}
/// Asks on the terminal to type `word`; false unless it was typed (and on no terminal).
fn typed(word: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        tell!("deckhand: no terminal to confirm on: pass --yes to decide anyway");
        return false;
    }
    let _ = write!(std::io::stderr(), "Type {word} to {word} it: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == word
}
