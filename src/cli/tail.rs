//! `deckhand tail`: live log tailing without a plan. The files and commands named on the command line become the
//! `[[logs]]` sources of a plan made in memory — written as TOML and read by `plan::parse`, so every check a plan's
//! log source gets applies here too — and the console opens on the logs pane alone (`console::tail`): the same
//! pipeline, keys and safety as a plan's logs, with no run lock and no journal (a tail releases nothing).
//! May import the library (plan, console, sanitize) and the command line's helpers in `crate`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use deckhand::plan::{self, Plan, PlanError};

/// What plan errors are said to come from (the plan is made from the command line, not read from a file).
const SOURCE_NAME: &str = "(command line)";
/// Longest name given to a source: its name tags every line it writes.
const MAX_NAME_CHARS: usize = 24;

/// `deckhand tail`'s arguments.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("sources").required(true).multiple(true).args(["files", "commands"])))]
pub struct Flags {
    /// Log files to follow from their end, as `tail -F` does (across rotation and truncation; a file that does
    /// not exist yet is waited for)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A command whose output to follow: run with `sh -c` in its own process group, restarted with backoff when
    /// it exits (repeat for more)
    #[arg(long = "cmd", value_name = "CMD")]
    pub commands: Vec<String>,
    /// Lines matching this regex are errors, in every source
    #[arg(long, value_name = "REGEX")]
    pub error: Option<String>,
    /// Show only the lines matching this regex, from the start (as if typed with `/`)
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,
}

/// One source as the operator gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    File(String),
    Command(String),
}

impl Given {
    /// How the operator wrote it, for messages.
    fn label(&self) -> String {
        match self {
            Given::File(f) => f.clone(),
            Given::Command(c) => format!("--cmd {c:?}"),
        }
    }
}

/// Validates the arguments, then opens the console. Exit 0 when the operator quits; 1 when a signal or a lost
/// terminal ended it, or it could not start; 2 bad usage (a bad regex, a folder given as a file, no terminal).
pub fn run(flags: &Flags) -> u8 {
    let plan = match plan_of(flags) {
        Ok(p) => p,
        Err(why) => {
            tell!("deckhand tail: {why}");
            return 2;
        }
    };
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        tell!(
            "deckhand tail: the console needs an interactive terminal (stdin and stdout must be a tty)"
        );
        return 2;
    }
    // deckhand's own diagnostics go to the data folder's deckhand.log when there is one to use; a tail writes
    // nothing else there.
    let _log = match deckhand::journal::prepare_data_dir(false) {
        Ok(dir) => crate::init_tracing(&dir),
        Err(e) => {
            tell!("deckhand tail: not writing diagnostics: {e}");
            None
        }
    };
    let runtime = match deckhand::console::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tell!("deckhand tail: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(deckhand::console::tail(plan, flags.filter.clone())) {
        Ok(code) => u8::try_from(code).unwrap_or(1),
        Err(e) => {
            tell!("deckhand tail: {e:#}");
            1
        }
    }
}

/// The plan a tail session runs: one `[[logs]]` source per file, then one per command, each with `--error`.
/// Errors name the argument they are about.
pub fn plan_of(flags: &Flags) -> Result<Plan, String> {
    if let Some(filter) = &flags.filter {
        regex::Regex::new(filter)
            .map_err(|e| format!("--filter: invalid regex {filter:?}: {}", last_line(&e)))?;
    }
    let mut given = Vec::new();
    for file in &flags.files {
        if file.is_dir() {
            return Err(format!("{}: is a folder; expected a file", file.display()));
        }
        let Some(text) = file.to_str() else {
            return Err(format!(
                "{}: the name is not UTF-8; deckhand follows files named in UTF-8",
                file.display()
            ));
        };
        given.push(Given::File(text.to_string()));
    }
    given.extend(flags.commands.iter().cloned().map(Given::Command));
    let text = plan_text(&given, flags.error.as_deref());
    plan::parse(&text, Path::new(SOURCE_NAME), &|name| {
        std::env::var(name).ok()
    })
    .map_err(|e| explain(&e, &given))
}

/// The plan as TOML. File names, names and the error regex are taken as typed (`${` is escaped); a command's
/// `${NAME}` is read as in a plan's `command` (a secret passes through the command's environment and is masked).
pub fn plan_text(given: &[Given], error: Option<&str>) -> String {
    let mut doc = toml::Table::new();
    let mut project = toml::Table::new();
    project.insert("name".into(), "tail".into());
    project.insert("environment".into(), "tail".into());
    doc.insert("project".into(), project.into());
    let names = names(given);
    let logs: Vec<toml::Value> = given
        .iter()
        .zip(names)
        .map(|(g, name)| {
            let mut t = toml::Table::new();
            t.insert("name".into(), literal(&name).into());
            match g {
                Given::File(f) => t.insert("file".into(), literal(f).into()),
                Given::Command(c) => t.insert("command".into(), c.clone().into()),
            };
            if let Some(e) = error {
                t.insert("error".into(), literal(e).into());
            }
            t.into()
        })
        .collect();
    doc.insert("logs".into(), logs.into());
    toml::to_string(&doc).unwrap_or_default()
}

/// Text that interpolation leaves as it is.
fn literal(text: &str) -> String {
    text.replace("${", "$${")
}

/// A readable, unique name per source: a file's name (with its folder when two share it), a command's first word
/// (`journalctl`) or `cmd1`…; a repeated one gets `#2`, `#3`.
pub fn names(given: &[Given]) -> Vec<String> {
    let mut command_no = 0;
    let mut names: Vec<String> = given
        .iter()
        .map(|g| match g {
            Given::File(f) => file_name(f, 1),
            Given::Command(c) => {
                command_no += 1;
                command_name(c).unwrap_or_else(|| format!("cmd{command_no}"))
            }
        })
        .collect();
    // Files of the same name in different folders: named with their folder.
    let first = names.clone();
    for (i, g) in given.iter().enumerate() {
        if let Given::File(f) = g
            && first.iter().filter(|n| **n == first[i]).count() > 1
        {
            names[i] = file_name(f, 2);
        }
    }
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let mut candidate = name.clone();
        let mut n = 1;
        while unique.contains(&candidate) {
            n += 1;
            candidate = format!("{name}#{n}");
        }
        unique.push(candidate);
    }
    unique
}

/// The last `parts` components of path `f`, made inert and cut to [`MAX_NAME_CHARS`] (kept at their end).
fn file_name(f: &str, parts: usize) -> String {
    let comps: Vec<String> = Path::new(f)
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let tail = comps[comps.len().saturating_sub(parts)..].join("/");
    let name = if tail.is_empty() { f.to_string() } else { tail };
    let name = deckhand::sanitize::sanitize_str(&name).into_owned();
    let count = name.chars().count();
    if count <= MAX_NAME_CHARS {
        name
    } else {
        let kept: String = name.chars().skip(count + 1 - MAX_NAME_CHARS).collect();
        format!("…{kept}")
    }
}

/// A command's first word (the program's own name, no folder) when it is a plain word.
fn command_name(c: &str) -> Option<String> {
    let word = c.split_whitespace().next()?;
    let word = word.rsplit('/').next()?;
    let plain = !word.is_empty()
        && word.chars().count() <= MAX_NAME_CHARS
        && word
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._+-".contains(ch));
    plain.then(|| word.to_string())
}

/// A plan error said about the argument it comes from.
fn explain(e: &PlanError, given: &[Given]) -> String {
    let source = e
        .key
        .strip_prefix("logs[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, field)| Some((given.get(i.parse::<usize>().ok()?)?, field)));
    match source {
        Some((_, ".error")) => format!("--error: {}", e.message),
        Some((g, _)) => format!("{}: {}", g.label(), e.message),
        None => e.to_string(),
    }
}

/// The last line of a regex error: what is wrong, without the pattern drawn again.
fn last_line(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .last()
        .unwrap_or("invalid")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(f: &[&str]) -> Vec<Given> {
        f.iter().map(|s| Given::File((*s).to_string())).collect()
    }

    #[test]
    fn names_are_readable_and_unique() {
        let mut given = files(&["/var/log/app.log", "/srv/a/app.log", "/srv/b/app.log", "x"]);
        given.push(Given::Command("journalctl -fu api".into()));
        given.push(Given::Command("/usr/bin/journalctl -fu db".into()));
        given.push(Given::Command("while true; do date; sleep 1; done".into()));
        given.push(Given::Command("FOO=1 ./run".into()));
        assert_eq!(
            names(&given),
            [
                "log/app.log",
                "a/app.log",
                "b/app.log",
                "x",
                "journalctl",
                "journalctl#2",
                "while",
                "cmd4"
            ]
        );
        assert_eq!(
            names(&files(&["app.log", "./app.log"])),
            ["app.log", "app.log#2"]
        );
        let long = "a-very-long-log-file-name-indeed.log";
        assert_eq!(names(&files(&[long]))[0].chars().count(), MAX_NAME_CHARS);
        // Control characters never reach a name (check refuses them): they are shown inert.
        assert_eq!(names(&files(&["/tmp/a\u{1b}]0;x"]))[0], "a^[]0;x");
    }

    #[test]
    fn the_plan_is_a_valid_watch_only_plan_with_text_taken_as_typed() {
        let given = vec![
            Given::File("logs/${HOME}.log".into()),
            Given::Command("echo \"quoted\" 'single'".into()),
        ];
        let text = plan_text(&given, Some(r"(?i)\berror\b"));
        let plan = plan::parse(&text, Path::new(SOURCE_NAME), &|_| None).unwrap();
        assert!(plan.phases.is_empty() && plan.database.is_none());
        assert_eq!(plan.logs.len(), 2);
        assert_eq!(
            plan.logs[0].input,
            plan::LogInput::File(PathBuf::from("logs/${HOME}.log"))
        );
        assert_eq!(plan.logs[0].error.as_deref(), Some(r"(?i)\berror\b"));
        match &plan.logs[1].input {
            plan::LogInput::Command(c) => assert_eq!(c.value, "echo \"quoted\" 'single'"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_argument() {
        let flags = |error: Option<&str>, cmd: &str| Flags {
            files: Vec::new(),
            commands: vec![cmd.into()],
            error: error.map(str::to_string),
            filter: None,
        };
        let e = plan_of(&flags(Some("(unclosed"), "true")).unwrap_err();
        assert!(e.starts_with("--error: invalid regex \"(unclosed\""), "{e}");
        let e = plan_of(&flags(None, "echo ${DECKHAND_TAIL_UNSET_VARIABLE}")).unwrap_err();
        assert!(
            e.starts_with("--cmd \"echo ${DECKHAND_TAIL_UNSET_VARIABLE}\": environment variable"),
            "{e}"
        );
        let mut f = flags(None, "true");
        f.filter = Some("[".into());
        let e = plan_of(&f).unwrap_err();
        assert!(e.starts_with("--filter: invalid regex \"[\""), "{e}");
    }
}
