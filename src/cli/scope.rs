//! Where `deckhand watch` and `deckhand approve` find the team database, and what they are about: a plan (`PLAN
//! [RUN]`: its `[team]`, its project and environment), or — from a host that has no plan — `DECKHAND_TEAM_URL` (and
//! `DECKHAND_TEAM_SCHEMA`, default `deckhand`) with `RUN` or `PROJECT ENV`.

use std::path::Path;

use deckhand::plan::{self, Resolved, Team};
use deckhand::secrets::Masker;

/// The team and what a command is about.
pub struct Scope {
    pub team: Team,
    /// Masks the team URL's password (and the plan's secrets) in what is printed.
    pub masker: Masker,
    pub project: Option<String>,
    pub environment: Option<String>,
    pub run: Option<String>,
}

/// Reads `args` (`[PLAN] [RUN]`, or `RUN`, or `PROJECT ENV`); `env` picks the plan's environment. The exit code
/// (2) when they say nothing usable, after telling why.
pub fn scope(args: &[String], env: Option<&str>) -> Result<Scope, u8> {
    let first = args.first().map(String::as_str);
    let plan_path = match first {
        Some(a) if a.ends_with(".toml") || Path::new(a).is_file() => Some(a),
        None if Path::new("deckhand.toml").is_file() => Some("deckhand.toml"),
        _ => None,
    };
    if let Some(path) = plan_path {
        let plan = plan::load_env(Path::new(path), env).map_err(|e| {
            tell!("deckhand: invalid plan: {e}");
            2u8
        })?;
        let Some(team) = plan.team.clone() else {
            tell!("deckhand: {path} has no [team] section: there is no team database to use");
            return Err(2);
        };
        let run = args.get(1).cloned();
        if args.len() > 2 {
            tell!("deckhand: too many arguments: expected PLAN [RUN]");
            return Err(2);
        }
        return Ok(Scope {
            team,
            masker: plan.secrets.masker(),
            project: Some(plan.project.name.clone()),
            environment: Some(plan.project.environment.clone()),
            run,
        });
    }
    let Some(url) = std::env::var("DECKHAND_TEAM_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        tell!(
            "deckhand: no plan here: give a plan (PLAN [RUN]), or set DECKHAND_TEAM_URL and give RUN or PROJECT ENV"
        );
        return Err(2);
    };
    let schema = std::env::var("DECKHAND_TEAM_SCHEMA").unwrap_or_else(|_| "deckhand".into());
    let schema_ok = !schema.is_empty()
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) || !schema_ok {
        tell!(
            "deckhand: DECKHAND_TEAM_URL must be a postgres:// URL and DECKHAND_TEAM_SCHEMA a lowercase name"
        );
        return Err(2);
    }
    let (project, environment, run) = match args {
        [run] => (None, None, Some(run.clone())),
        [project, environment] => (Some(project.clone()), Some(environment.clone()), None),
        _ => {
            tell!("deckhand: expected RUN, or PROJECT ENV (or a plan)");
            return Err(2);
        }
    };
    let masker = Masker::new(&plan::url_passwords(&url));
    let team = Team {
        database: Resolved {
            display: plan::mask_url_passwords(&url),
            value: url,
        },
        schema,
        role: None,
        approve: Vec::new(),
        approval_timeout: std::time::Duration::from_secs(30 * 60),
    };
    Ok(Scope {
        team,
        masker,
        project,
        environment,
        run,
    })
}
