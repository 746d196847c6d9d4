//! `deckhand init`: a starter plan from what a project folder holds ([`detect`] reads it): `[database]` with the
//! migrations folder, its format and the variable holding the URL; phases from `package.json` scripts, `fly.toml`
//! and compose files; a `[[logs]]` source for Fly.io; a checklist item naming the git default branch. Each value
//! carries a `# from FILE` comment, each guess a `# TODO`. Strings are quoted by the import's helpers
//! (`import::emit`), and the summary is the import's [`Summary`] (found, guessed, not found).

mod detect;

use std::path::{Component, Path, PathBuf};

use crate::import::Summary;
use crate::import::emit::{c, lit, q};

/// Where the project is and where the plan will be.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project folder read.
    pub project_dir: PathBuf,
    /// The folder the plan is written in: the plan's paths are relative to it.
    pub plan_dir: PathBuf,
}

/// The plan's text and what was found, guessed and not found.
#[derive(Debug, Clone, Default)]
pub struct Initialized {
    pub toml: String,
    pub summary: Summary,
}

struct Phase {
    name: String,
    from: String,
    todo: Option<String>,
    destructive: bool,
    seed: bool,
    runs: Vec<String>,
}

struct Out {
    text: String,
    summary: Summary,
    /// The project folder as seen from the plan's folder (`.` when they are one).
    cwd: String,
}

impl Out {
    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }
}

/// `path` (relative to `project`) as seen from `plan_dir`; both folders exist.
fn relative(project: &Path, plan_dir: &Path, path: &str) -> String {
    let (Ok(p), Ok(d)) = (project.canonicalize(), plan_dir.canonicalize()) else {
        return path.to_string();
    };
    if p == d {
        return path.to_string();
    }
    let pc: Vec<Component> = p.components().collect();
    let dc: Vec<Component> = d.components().collect();
    let common = pc.iter().zip(&dc).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..dc.len() {
        out.push("..");
    }
    for comp in &pc[common..] {
        out.push(comp);
    }
    if path != "." {
        out.push(path);
    }
    let s = out.to_string_lossy().into_owned();
    if s.is_empty() { ".".to_string() } else { s }
}

/// Reads the project folder and writes the plan's text.
pub fn init(options: &Options) -> Initialized {
    let dir = &options.project_dir;
    let mut o = Out {
        text: String::new(),
        summary: Summary::default(),
        cwd: relative(dir, &options.plan_dir, "."),
    };
    o.line("# deckhand plan started by `deckhand init` from the files of this project.");
    o.line("# Each value names the file it came from; every \"# TODO\" is a guess to review before a run.");
    o.line("");
    let package = detect::package(dir);
    let fly = detect::fly_app(dir);
    project(&mut o, dir, package.as_ref(), fly.as_ref());
    branch(&mut o, dir);
    let database = database(&mut o, options);
    let mut phases = Vec::new();
    scripts(&mut o, package.as_ref(), database, &mut phases);
    if let Some(app) = &fly {
        o.summary
            .taken
            .push(format!("Fly.io app {} (fly.toml)", app.value));
        phases.push(Phase {
            name: format!("Deploy to Fly.io ({})", app.value),
            from: app.from.clone(),
            todo: None,
            destructive: true,
            seed: false,
            runs: vec![format!("flyctl deploy -a {}", app.value)],
        });
        phases.push(Phase {
            name: format!("Fly.io status ({})", app.value),
            from: app.from.clone(),
            todo: None,
            destructive: false,
            seed: false,
            runs: vec![format!("flyctl status -a {}", app.value)],
        });
    } else {
        o.summary
            .left_out
            .push("fly.toml (a Fly.io app)".to_string());
    }
    compose(&mut o, dir, &mut phases);
    // Seeding comes last, after every deploy.
    phases.sort_by_key(|p| p.seed);
    write_phases(&mut o, &mut phases);
    if let Some(app) = &fly {
        o.line(&format!("[[logs]]  # from {}", app.from));
        o.line("name = \"fly\"");
        o.line(&format!(
            "command = {}",
            lit(&format!("flyctl logs -a {}", app.value))
        ));
        o.line("");
    }
    o.summary.left_out.push(
        "a health endpoint: add a [[health]] with its URL (see the README's plan format)"
            .to_string(),
    );
    Initialized {
        toml: o.text,
        summary: o.summary,
    }
}

fn project(
    o: &mut Out,
    dir: &Path,
    package: Option<&detect::Package>,
    fly: Option<&detect::Found>,
) {
    o.line("[project]");
    let (name, from) = package
        .and_then(|p| p.name.clone())
        .map(|n| (n, "# from package.json"))
        .or_else(|| fly.map(|f| (f.value.clone(), "# from fly.toml")))
        .unwrap_or_else(|| {
            let folder = dir
                .canonicalize()
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "project".to_string());
            (folder, "# TODO: the folder's name")
        });
    let name: String = name
        .chars()
        .filter(|ch| !ch.is_control())
        .take(200)
        .collect();
    o.line(&format!("name = {}  {from}", lit(&name)));
    o.line("# TODO: the environment this plan deploys to (\"production\" asks for typed confirmations)");
    o.line("environment = \"production\"");
    o.summary
        .guessed
        .push("[project] environment = \"production\"".to_string());
    o.line("");
}

fn branch(o: &mut Out, dir: &Path) {
    match detect::branch(dir) {
        Some((b, guess)) => {
            o.line(&format!("[[checklist]]  # from {}", b.from));
            if guess {
                o.line("# TODO: the branch checked out now; the default branch may be another");
                o.summary
                    .guessed
                    .push(format!("git branch {} ({})", b.value, b.from));
            } else {
                o.summary
                    .taken
                    .push(format!("git default branch {} ({})", b.value, b.from));
            }
            o.line(&format!(
                "item = {}",
                lit(&format!(
                    "The release is merged into {} and pushed",
                    b.value
                ))
            ));
            o.line("");
        }
        None => o
            .summary
            .left_out
            .push("a git default branch (.git)".to_string()),
    }
    o.line("[[checklist]]  # TODO: your team's own checks before a release");
    o.line("item = \"Team notified of the release\"");
    o.line("");
}

/// `[database]` and `[backup]`; whether the `[database]` is live (its folder exists beside the plan).
fn database(o: &mut Out, options: &Options) -> bool {
    let dir = &options.project_dir;
    let Some(db) = detect::database(dir) else {
        o.summary.left_out.push(
            "a migrations folder (prisma/, drizzle.config.*, migrations/, db/migrations/, sql/)"
                .to_string(),
        );
        return false;
    };
    let folder = relative(dir, &options.plan_dir, &db.folder.value);
    let p = if db.exists { "" } else { "# " };
    if !db.exists {
        o.line(&format!(
            "# TODO: {} is not there yet; uncomment once it holds migrations (deckhand check needs the folder)",
            c(&db.folder.value)
        ));
    }
    o.line(&format!("{p}[database]  # from {}", c(&db.folder.from)));
    o.summary.taken.push(format!(
        "{} migrations in {} ({})",
        db.format, db.folder.value, db.folder.from
    ));
    let var = db.var.clone().or_else(|| detect::env_var(dir));
    match &var {
        Some(v) => {
            o.line(&format!(
                "{p}url = \"${{{}}}\"  # from {}",
                v.value,
                c(&v.from)
            ));
            o.summary.taken.push(format!(
                "the database URL's variable {} ({})",
                v.value, v.from
            ));
            o.summary.variables.push(v.value.clone());
        }
        None => {
            o.line(&format!("{p}# TODO: the variable holding the database URL"));
            o.line(&format!("{p}url = \"${{DATABASE_URL}}\""));
            o.summary
                .guessed
                .push("the database URL's variable DATABASE_URL".to_string());
            o.summary.variables.push("DATABASE_URL".to_string());
        }
    }
    o.line(&format!(
        "{p}migrations = {}  # from {}",
        lit(&folder),
        c(&db.folder.from)
    ));
    o.line(&format!("{p}format = {}", q(db.format)));
    o.line("");
    o.line(&format!(
        "{p}[backup]  # TODO: deckhand's verified backup before migrating"
    ));
    o.line(&format!(
        "{p}dir = \"~/deckhand-backups\"  # TODO: where backups go"
    ));
    o.line("");
    o.summary
        .guessed
        .push("[backup] dir = \"~/deckhand-backups\"".to_string());
    if !db.exists {
        o.summary.left_out.push(format!(
            "[database]: written commented out, {} is not there yet",
            db.folder.value
        ));
    }
    db.exists
}

fn scripts(
    o: &mut Out,
    package: Option<&detect::Package>,
    database: bool,
    phases: &mut Vec<Phase>,
) {
    let Some(pkg) = package else {
        o.summary
            .left_out
            .push("package.json (deploy, migrate and seed scripts)".to_string());
        return;
    };
    for s in &pkg.scripts {
        let run = format!("{} {}", pkg.runner, s.name);
        let (name, destructive, seed) = match s.kind {
            detect::ScriptKind::Migrate if database => {
                o.summary.left_out.push(format!(
                    "package.json script {} left out: deckhand's migrate stage applies [database]'s migrations",
                    s.name
                ));
                continue;
            }
            detect::ScriptKind::Migrate => (format!("Migrate ({run})"), true, false),
            detect::ScriptKind::Deploy => (format!("Deploy ({run})"), true, false),
            detect::ScriptKind::Seed => (format!("Seed ({run})"), false, true),
        };
        o.summary
            .taken
            .push(format!("package.json script {}", s.name));
        phases.push(Phase {
            name,
            from: format!("package.json: scripts.{}", s.name),
            todo: None,
            destructive,
            seed,
            runs: vec![run],
        });
    }
}

fn compose(o: &mut Out, dir: &Path, phases: &mut Vec<Phase>) {
    let Some(file) = detect::compose(dir) else {
        o.summary
            .left_out
            .push("a compose file (compose.yaml, docker-compose*.yml)".to_string());
        return;
    };
    let run = if file.default_name {
        "docker compose up -d".to_string()
    } else {
        format!("docker compose -f {} up -d", file.file)
    };
    let services = if file.services.is_empty() {
        o.summary.guessed.push(format!(
            "{}: no service names read (flow style or anchors?)",
            file.file
        ));
        "none read".to_string()
    } else {
        o.summary.taken.push(format!(
            "compose services {} ({})",
            file.services.join(", "),
            file.file
        ));
        file.services.join(", ")
    };
    let todo = (!file.default_name).then(|| {
        format!(
            "{} is not a default compose file name: is it the one to deploy?",
            file.file
        )
    });
    phases.push(Phase {
        name: "Start the services (docker compose up -d)".to_string(),
        from: format!("{}: services {services}", file.file),
        todo,
        destructive: true,
        seed: false,
        runs: vec![run],
    });
}

fn write_phases(o: &mut Out, phases: &mut [Phase]) {
    let deploys = phases.iter().filter(|p| p.destructive && !p.seed).count();
    if phases.is_empty() {
        o.line("[[phase]]  # TODO: nothing to run was found: replace this step with your deploy");
        o.line("name = \"Deploy\"");
        o.line("destructive = true");
        o.line("steps = [{ run = \"echo 'replace this step with the deploy command' && false\" }]");
        o.line("");
        o.summary
            .guessed
            .push("a placeholder phase \"Deploy\" (nothing to run was found)".to_string());
        return;
    }
    for p in phases.iter_mut() {
        o.line(&format!("[[phase]]  # from {}", c(&p.from)));
        if deploys > 1 && p.destructive && !p.seed && p.todo.is_none() {
            p.todo =
                Some("more than one way to deploy was found: keep the one you use".to_string());
        }
        if let Some(t) = &p.todo {
            o.line(&format!("# TODO: {}", c(t)));
        }
        o.line(&format!("name = {}", lit(&p.name)));
        if p.destructive {
            o.line("destructive = true");
        }
        if p.seed {
            o.line("seed = true");
        }
        o.line("steps = [");
        for run in &p.runs {
            let cwd = if o.cwd == "." {
                String::new()
            } else {
                format!(", cwd = {}", lit(&o.cwd))
            };
            o.line(&format!("  {{ run = {}{cwd} }},", lit(run)));
        }
        o.line("]");
        o.line("");
    }
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn paths_from_the_plan_folder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("ops")).unwrap();
        assert_eq!(relative(d.path(), d.path(), "migrations"), "migrations");
        assert_eq!(
            relative(d.path(), &d.path().join("ops"), "migrations"),
            "../migrations"
        );
        assert_eq!(relative(d.path(), &d.path().join("ops"), "."), "..");
    }
}
