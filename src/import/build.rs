//! The plan's parts gathered from the runbook's blocks, each with the line it came from and, when it is a
//! guess, why: the walk keeps the headings above each block (its section), sends shell commands to a phase
//! named by their heading or to the rollback, and prose to the window, monitor and thresholds. May import the
//! other `import` modules, regex and url only.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::classify::{self, Kind};
use super::markdown::Block;
use super::prose::{self, Finding};
use super::shell;
use super::{Options, Summary};

/// A step of a phase or of the rollback.
#[derive(Debug, Clone)]
pub struct Step {
    pub run: String,
    pub line: usize,
    pub cwd: Option<String>,
    pub note: Option<String>,
    pub todo: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub line: usize,
    pub steps: Vec<Step>,
    /// The first command that changes shared systems: its line and text.
    pub destructive: Option<(usize, String)>,
    pub seed: Option<usize>,
    /// Why the whole phase is a guess.
    pub guess: Option<String>,
}

/// A `[[health]]` or `[[smoke]]` check, or a `[[logs]]` source.
#[derive(Debug, Clone)]
pub struct Watch {
    pub name: String,
    /// The URL (health, smoke) or the command (logs).
    pub target: String,
    pub error: Option<String>,
    pub line: usize,
    pub todo: Option<String>,
}

/// Everything the plan will hold.
#[derive(Debug, Default)]
pub struct Model {
    pub project: String,
    pub environments: BTreeMap<&'static str, usize>,
    pub checklist: Vec<(String, usize, Option<String>)>,
    pub phases: Vec<Phase>,
    pub rollback: Vec<Step>,
    /// The format, the folder, the line, and whether the folder exists where the plan will be.
    pub database: Option<(String, String, usize, bool)>,
    /// A port forward to the database: the command, its local port, the line.
    pub tunnel: Option<(String, u16, usize)>,
    pub backup: Option<usize>,
    pub health: Vec<Watch>,
    pub smoke: Vec<Watch>,
    pub logs: Vec<Watch>,
    pub no_friday: Option<usize>,
    pub quiet_hours: Option<(String, usize)>,
    pub monitor: Option<(String, usize)>,
    pub latency_factor: Option<(f64, usize)>,
    pub max_latency: Option<(String, usize)>,
    pub error_rate: Option<(f64, usize)>,
    pub verify: Vec<(String, u64, usize)>,
    pub summary: Summary,
    /// Inline code naming scripts, for when no shell block gives a phase: code, line, section, section line.
    pub(super) inline: Vec<(String, usize, String, usize)>,
    /// The sentence ending in `:` just before a code block: a note for its first command.
    lead: Option<String>,
}

/// The headings above the current block.
#[derive(Default)]
struct Section(Vec<(u8, String, usize)>);

impl Section {
    fn enter(&mut self, level: u8, text: &str, line: usize) {
        while self.0.last().is_some_and(|(l, ..)| *l >= level) {
            self.0.pop();
        }
        let name = name_of(text);
        let name = if name.is_empty() {
            format!("Section at line {line}")
        } else {
            name
        };
        self.0.push((level, name, line));
    }
    fn any(&self, words: &[&str]) -> bool {
        self.0.iter().any(|(_, t, _)| has_word(t, words))
    }
    fn last_has(&self, words: &[&str]) -> bool {
        self.0.last().is_some_and(|(_, t, _)| has_word(t, words))
    }
    fn name(&self) -> (String, usize) {
        self.0
            .last()
            .map_or(("Runbook".to_string(), 1), |(_, t, l)| (t.clone(), *l))
    }
    fn rollback(&self) -> bool {
        self.any(&[
            "rollback",
            "roll back",
            "rolling back",
            "emergency",
            "disaster",
            "revert",
            "recovery",
        ])
    }
}

fn has_word(text: &str, words: &[&str]) -> bool {
    let lower = text.to_lowercase();
    words.iter().any(|w| lower.contains(w))
}

/// A heading as a name: emphasis gone already; leading words with no ASCII letter or digit (emoji, mojibake)
/// dropped; control characters removed; at most 120 characters.
pub fn name_of(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    let words: Vec<&str> = clean.split_whitespace().collect();
    let start = words
        .iter()
        .position(|w| w.chars().any(|c| c.is_ascii_alphanumeric()))
        .unwrap_or(words.len());
    let name = words[start..].join(" ");
    name.chars().take(120).collect()
}

static PLACEHOLDER: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\[[A-Za-z][\w .-]*\]|<[A-Za-z][\w-]*>|\bYOUR[_-]|\byour-").ok());

/// A command with a placeholder to fill in (`[last-stable-tag]`, `<tag>`): why it is a guess.
fn placeholder(run: &str) -> Option<String> {
    let re = PLACEHOLDER.as_ref()?;
    let m = re.find(run)?;
    Some(format!("fill in the placeholder {}", m.as_str()))
}

/// The plan's parts from the runbook's blocks.
pub fn model(blocks: &[Block], options: &Options) -> Model {
    let mut m = Model {
        project: project_name(&options.source),
        ..Model::default()
    };
    let mut section = Section::default();
    for block in blocks {
        match block {
            Block::Heading { level, text, line } => {
                section.enter(*level, text, *line);
                m.lead = None;
                m.prose(text, *line, &section);
            }
            Block::Task {
                checked,
                text,
                line,
            } => {
                m.task(*checked, text, *line, &section);
                m.prose(text, *line, &section);
            }
            Block::Text { text, line } => {
                m.prose(text, *line, &section);
                // "Run the production deployment script:" introduces the block that follows.
                m.lead = text.strip_suffix(':').map(|t| t.trim().to_string());
            }
            Block::Code { lang, text, line } => {
                m.code(lang, text, *line, &section, options);
                m.lead = None;
            }
            Block::Inline { code, line } if !section.rollback() => {
                let (name, at) = section.name();
                m.inline.push((code.clone(), *line, name, at));
            }
            Block::Inline { .. } => {}
        }
    }
    m.finish();
    m
}

fn project_name(source: &str) -> String {
    let stem = source.rsplit('/').next().unwrap_or(source);
    let stem = stem.strip_suffix(".md").unwrap_or(stem);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "runbook".into()
    } else {
        name
    }
}

impl Model {
    fn task(&mut self, checked: bool, text: &str, line: usize, section: &Section) {
        let text: String = text.chars().filter(|c| !c.is_control()).take(180).collect();
        let ticked = if checked {
            " (ticked in the runbook)"
        } else {
            ""
        };
        let checklist_like = section.last_has(&[
            "checklist",
            "pre-deploy",
            "predeploy",
            "pre deploy",
            "before",
            "prerequisite",
            "readiness",
            "preparation",
            "go/no-go",
        ]);
        if checklist_like {
            self.summary
                .taken
                .push(format!("line {line}: checklist item{ticked}"));
            self.checklist.push((text, line, None));
        } else {
            let (heading, _) = section.name();
            let why = format!(
                "a task item under \"{heading}\", not a checklist heading: it gates the first destructive \
                 phase like the others{ticked}"
            );
            self.summary
                .guessed
                .push(format!("line {line}: checklist item under \"{heading}\""));
            let item: String = format!("{heading}: {text}").chars().take(200).collect();
            self.checklist.push((item, line, Some(why)));
        }
    }

    fn prose(&mut self, text: &str, line: usize, section: &Section) {
        for env in prose::environments(text) {
            self.environments.entry(env).or_insert(line);
        }
        let criteria = section.any(&["success", "criteria", "verif", "validat", "expected"]);
        for finding in prose::read(text, criteria) {
            self.finding(finding, line);
        }
    }

    fn finding(&mut self, finding: Finding, line: usize) {
        let s = &mut self.summary;
        match finding {
            Finding::NoFriday if self.no_friday.is_none() => {
                s.taken.push(format!(
                    "line {line}: no deploys on Fridays → [window] days"
                ));
                self.no_friday = Some(line);
            }
            Finding::QuietHours(what) if self.quiet_hours.is_none() => {
                s.guessed.push(format!(
                    "line {line}: \"{what}\" → [window] hours to set (commented out)"
                ));
                self.quiet_hours = Some((what, line));
            }
            Finding::Monitor(d) if self.monitor.is_none() => {
                s.taken
                    .push(format!("line {line}: watch for {d} → [monitor] duration"));
                self.monitor = Some((d, line));
            }
            Finding::LatencyFactor(f) if self.latency_factor.is_none() => {
                self.latency_factor = Some((f, line));
            }
            Finding::MaxLatency(ms) if self.max_latency.is_none() => {
                self.max_latency = Some((ms, line))
            }
            Finding::ErrorRate(r) if self.error_rate.is_none() => self.error_rate = Some((r, line)),
            Finding::Count(what, n) if !self.verify.iter().any(|v| v.0 == what) => {
                s.taken
                    .push(format!("line {line}: {n} {what} → [[verify]]"));
                self.verify.push((what, n, line));
            }
            _ => {}
        }
    }

    fn code(&mut self, lang: &str, text: &str, line: usize, section: &Section, options: &Options) {
        if !shell::is_shell(lang) {
            let why = format!("line {line}: a `{lang}` block, not shell: not a step");
            self.summary.left_out.push(why);
            return;
        }
        let mut commands = shell::split(text, line, lang);
        if let (Some(first), Some(lead)) = (commands.first_mut(), self.lead.take()) {
            first.note.get_or_insert(lead);
        }
        if commands.is_empty() {
            self.summary
                .left_out
                .push(format!("line {line}: an empty shell block"));
        }
        for c in commands {
            self.command(c, section, options);
        }
    }

    fn command(&mut self, c: shell::Command, section: &Section, options: &Options) {
        let line = c.line;
        let short: String = c
            .text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        let s = &mut self.summary;
        match classify::kind(&c.text) {
            Kind::Backup => {
                s.taken.push(format!(
                    "line {line}: `{short}` → [backup] (deckhand's own verified backup replaces it)"
                ));
                self.backup.get_or_insert(line);
            }
            Kind::Migrate { format, folder } => {
                let exists = options.plan_dir.join(&folder).is_dir();
                s.taken.push(format!(
                    "line {line}: `{short}` → [database] ({format}, {folder}; deckhand's migrate stage runs them)"
                ));
                self.database.get_or_insert((format, folder, line, exists));
            }
            Kind::Tunnel { command, port } => {
                s.taken.push(format!(
                    "line {line}: `{short}` → [database] tunnel on port {port} (deckhand runs it, restarts it and \
                     stops it; the URL must point at localhost:{port})"
                ));
                self.tunnel.get_or_insert((command, port, line));
            }
            Kind::Probe { url } => self.probe(&url, line, section),
            Kind::Logs { command, error } => {
                s.taken.push(format!("line {line}: `{short}` → [[logs]]"));
                let name = unique(&self.logs, &log_name(&command));
                self.logs.push(Watch {
                    name,
                    target: command,
                    error,
                    line,
                    todo: None,
                });
            }
            Kind::Endless => s.left_out.push(format!(
                "line {line}: `{short}`: runs until stopped, not a step"
            )),
            Kind::Step => self.step(c, section),
        }
    }

    fn probe(&mut self, url: &str, line: usize, section: &Section) {
        let health = section.any(&["health", "monitor", "watch"]);
        let (url, todo) =
            placeholder_url(url, self.health.len() + self.smoke.len(), &mut self.summary);
        let list = if health { &self.health } else { &self.smoke };
        let name = unique(list, &url_name(&url));
        let table = if health { "[[health]]" } else { "[[smoke]]" };
        self.summary
            .taken
            .push(format!("line {line}: curl -f → {table} {name}"));
        let w = Watch {
            name,
            target: url,
            error: None,
            line,
            todo,
        };
        if health {
            self.health.push(w)
        } else {
            self.smoke.push(w)
        }
    }

    fn step(&mut self, c: shell::Command, section: &Section) {
        let todo = placeholder(&c.text).or_else(|| {
            c.cwd
                .as_ref()
                .map(|d| format!("the folder {d} must exist beside the plan"))
        });
        if let Some(t) = &todo {
            self.summary.guessed.push(format!("line {}: {t}", c.line));
        }
        let step = Step {
            run: c.text.clone(),
            line: c.line,
            cwd: c.cwd,
            note: c.note,
            todo,
        };
        if section.rollback() {
            self.summary
                .taken
                .push(format!("line {}: rollback step", c.line));
            self.rollback.push(step);
            return;
        }
        let (name, at) = section.name();
        let idx = match self.phases.iter().position(|p| p.line == at) {
            Some(i) => i,
            None => {
                let name = unique_phase(&self.phases, &name);
                self.phases.push(Phase {
                    name,
                    line: at,
                    steps: Vec::new(),
                    destructive: None,
                    seed: None,
                    guess: None,
                });
                self.phases.len() - 1
            }
        };
        let phase = &mut self.phases[idx];
        if phase.destructive.is_none() && classify::destructive(&c.text) {
            let short: String = c
                .text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            phase.destructive = Some((c.line, short));
        }
        if phase.seed.is_none() && classify::seed(&c.text) {
            phase.seed = Some(c.line);
        }
        self.summary
            .taken
            .push(format!("line {}: step of \"{}\"", c.line, phase.name));
        phase.steps.push(step);
    }
}

/// A URL as the plan holds it: `$VAR/x` and `${VAR}/x` as `${VAR}/x`; one that does not parse (a placeholder
/// such as `https://<your-domain>/health`) replaced by a `${HEALTH_URL_N}` variable.
fn placeholder_url(url: &str, n: usize, s: &mut Summary) -> (String, Option<String>) {
    let plain = url.trim_matches(['"', '\'']);
    if let Some(rest) = plain.strip_prefix('$') {
        let var: String = rest
            .trim_start_matches('{')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = rest.trim_start_matches('{').get(var.len()..).unwrap_or("");
        let after = after.strip_prefix('}').unwrap_or(after);
        if !var.is_empty() && !after.contains('$') {
            s.variables.push(var.clone());
            return (format!("${{{var}}}{after}"), None);
        }
    }
    if url::Url::parse(plain).is_ok_and(|u| u.has_host())
        && !plain.contains(['<', '>', '[', ']', '$'])
    {
        return (plain.to_string(), None);
    }
    let var = if n == 0 {
        "HEALTH_URL".to_string()
    } else {
        format!("HEALTH_URL_{}", n + 1)
    };
    s.variables.push(var.clone());
    s.guessed.push(format!(
        "{plain}: not a URL deckhand can probe, as ${{{var}}}"
    ));
    (
        format!("${{{var}}}"),
        Some(format!("the runbook says {plain}")),
    )
}

fn url_name(url: &str) -> String {
    let tail = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("health");
    let tail: String = tail
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    if tail.is_empty() || tail.contains('.') && !tail.contains('-') {
        "health".into()
    } else {
        tail
    }
}

fn log_name(command: &str) -> String {
    command
        .split_whitespace()
        .filter(|w| !w.starts_with('-'))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect()
}

fn unique(list: &[Watch], name: &str) -> String {
    unique_among(name, |n| list.iter().any(|w| w.name == n))
}

pub(super) fn unique_phase(list: &[Phase], name: &str) -> String {
    unique_among(name, |n| list.iter().any(|p| p.name == n))
}

/// `name`, or `name (2)`, `name (3)`… the first that `taken` does not claim (plan names are unique per table).
fn unique_among(name: &str, taken: impl Fn(&str) -> bool) -> String {
    (1..)
        .map(|i| {
            if i == 1 {
                name.to_string()
            } else {
                format!("{name} ({i})")
            }
        })
        .find(|n| !taken(n))
        .unwrap_or_default()
}
