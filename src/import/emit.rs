//! The plan's TOML text from the gathered parts: every table and step with a `# from RUNBOOK.md:LINE` comment,
//! every guess with a `# TODO`, parts that could not be checked (a migrations folder not beside the plan)
//! written commented out. Strings are quoted by the `toml` crate, and a runbook's literal `${` is written `$${`
//! so the plan's own interpolation leaves it to the shell. May import `build`, `prose` and the toml crate only;
//! its string helpers ([`q`], [`lit`], [`c`]) serve `deckhand init` too.

use super::build::{Model, Phase, Step, Watch};
use super::prose;

/// A string as a TOML value, quoted by the `toml` crate.
pub(crate) fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A string from the runbook: its `${` kept literal for the shell (the plan interpolates `${VAR}`).
pub(crate) fn lit(s: &str) -> String {
    q(&s.replace("${", "$${"))
}

/// Text made fit for a one-line comment.
pub(crate) fn c(s: &str) -> String {
    s.chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .collect::<String>()
        .trim()
        .to_string()
}

struct Out {
    text: String,
    source: String,
}

impl Out {
    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }
    fn from(&self, line: usize) -> String {
        format!("# from {}:{line}", c(&self.source))
    }
    fn todo(&mut self, indent: &str, why: &str) {
        let t = format!("{indent}# TODO: {}", c(why));
        self.line(&t);
    }
}

/// The whole plan.
pub fn plan(m: &Model, source: &str) -> String {
    let mut o = Out {
        text: String::new(),
        source: source.to_string(),
    };
    o.line(&format!(
        "# deckhand plan imported from {} by `deckhand import`.",
        c(source)
    ));
    o.line("# Each part names the runbook line it came from; every \"# TODO\" is a guess to review before a run.");
    o.line("");
    project(&mut o, m);
    for (item, line, todo) in &m.checklist {
        let from = o.from(*line);
        o.line(&format!("[[checklist]]  {from}"));
        if let Some(t) = todo {
            o.todo("", t);
        }
        o.line(&format!("item = {}", lit(item)));
        o.line("");
    }
    database(&mut o, m);
    for p in &m.phases {
        phase(&mut o, p);
    }
    watches(&mut o, m);
    rollback(&mut o, m);
    policies(&mut o, m);
    environments(&mut o, m);
    o.text
}

fn project(o: &mut Out, m: &Model) {
    o.line("[project]");
    o.line(&format!("name = {}  # from the file name", q(&m.project)));
    let env = if m.environments.contains_key("production") {
        Some("production")
    } else {
        m.environments.keys().next().copied()
    };
    match env {
        Some(e) => {
            let from = o.from(m.environments.get(e).copied().unwrap_or(1));
            o.line(&format!("environment = {}  {from}", q(e)));
        }
        None => {
            o.todo("", "the runbook names no environment");
            o.line("environment = \"production\"");
        }
    }
    o.line("");
}

fn database(o: &mut Out, m: &Model) {
    let live = m.database.as_ref().is_some_and(|d| d.3);
    let needed =
        m.database.is_some() || m.backup.is_some() || !m.verify.is_empty() || m.tunnel.is_some();
    if !needed {
        return;
    }
    let p = if live { "" } else { "# " };
    if !live {
        o.todo(
            "",
            "[database] needs a migrations folder beside the plan; uncomment and set it (and [backup], [[verify]])",
        );
    }
    let from = m.database.as_ref().map_or(String::new(), |d| o.from(d.2));
    o.line(&format!("{p}[database]  {from}"));
    if let Some((_, port, _)) = &m.tunnel {
        o.todo(
            "",
            &format!("DATABASE_URL must go through the tunnel: postgres://USER:PASSWORD@localhost:{port}/DB"),
        );
    }
    o.line(&format!("{p}url = \"${{DATABASE_URL}}\""));
    match &m.database {
        Some((format, folder, ..)) => {
            o.line(&format!("{p}migrations = {}", lit(folder)));
            o.line(&format!("{p}format = {}", q(format)));
        }
        None => o.line(&format!(
            "{p}migrations = \"migrations\"  # TODO: the migrations folder"
        )),
    }
    if let Some((command, port, line)) = &m.tunnel {
        let from = o.from(*line);
        o.line(&format!("{p}tunnel = {}  {from}", lit(command)));
        o.line(&format!("{p}tunnel_port = {port}"));
    }
    o.line("");
    if let Some(line) = m.backup {
        let from = o.from(line);
        o.line(&format!(
            "{p}[backup]  {from}: pg_dump, replaced by deckhand's verified backup"
        ));
        o.line(&format!(
            "{p}dir = \"~/deckhand-backups\"  # TODO: where backups go"
        ));
        o.line("");
    }
    for (what, n, line) in &m.verify {
        let from = o.from(*line);
        o.line(&format!("{p}[[verify]]  {from}"));
        o.line(&format!("{p}name = {}", q(what)));
        o.line(&format!("{p}sql = {}", q(prose::count_sql(what))));
        o.line(&format!("{p}expect = {}", q(&format!("= {n}"))));
        o.line("");
    }
}

fn phase(o: &mut Out, p: &Phase) {
    let from = o.from(p.line);
    o.line(&format!("[[phase]]  {from}"));
    if let Some(g) = &p.guess {
        o.todo("", g);
    }
    o.line(&format!("name = {}", lit(&p.name)));
    if let Some((line, cmd)) = &p.destructive {
        let from = o.from(*line);
        o.line(&format!("destructive = true  {from}: {}", c(cmd)));
    }
    if let Some(line) = p.seed {
        let from = o.from(line);
        o.line(&format!("seed = true  {from}"));
    }
    steps(o, "steps", &p.steps);
    o.line("");
}

fn steps(o: &mut Out, key: &str, list: &[Step]) {
    o.line(&format!("{key} = ["));
    for s in list {
        let from = o.from(s.line);
        o.line(&format!("  {from}"));
        if let Some(n) = &s.note {
            o.line(&format!("  # note: {}", c(n)));
        }
        if let Some(t) = &s.todo {
            o.todo("  ", t);
        }
        let cwd = s
            .cwd
            .as_ref()
            .map_or(String::new(), |d| format!(", cwd = {}", lit(d)));
        o.line(&format!("  {{ run = {}{cwd} }},", lit(&s.run)));
    }
    o.line("]");
}

fn watches(o: &mut Out, m: &Model) {
    for (table, list) in [("health", &m.health), ("smoke", &m.smoke)] {
        for w in list {
            check(o, m, table, w);
        }
    }
    for w in &m.logs {
        let from = o.from(w.line);
        o.line(&format!("[[logs]]  {from}"));
        o.line(&format!("name = {}", lit(&w.name)));
        o.line(&format!("command = {}", lit(&w.target)));
        if let Some(e) = &w.error {
            o.line(&format!("error = {}", lit(e)));
        }
        o.line("");
    }
}

fn check(o: &mut Out, m: &Model, table: &str, w: &Watch) {
    let from = o.from(w.line);
    o.line(&format!("[[{table}]]  {from}"));
    if let Some(t) = &w.todo {
        o.todo("", t);
    }
    o.line(&format!("name = {}", lit(&w.name)));
    // The URL is ours: `${VAR}` placeholders are meant for the plan's interpolation.
    o.line(&format!("url = {}", q(&w.target)));
    if table == "health" {
        if let Some((f, line)) = m.latency_factor {
            let from = o.from(line);
            o.line(&format!("latency_factor = {f:?}  {from}"));
        }
        if let Some((ms, line)) = &m.max_latency {
            let from = o.from(*line);
            o.line(&format!("max_latency = {}  {from}", q(ms)));
        }
        if let Some((r, line)) = m.error_rate {
            let from = o.from(line);
            o.line(&format!("error_rate = {r:?}  {from}"));
        }
    }
    o.line("");
}

fn rollback(o: &mut Out, m: &Model) {
    let Some(first) = m.rollback.first() else {
        return;
    };
    let from = o.from(first.line);
    o.line(&format!("[rollback]  {from}"));
    o.todo(
        "",
        "the commands of every rollback and emergency section, in the runbook's order: keep those R should run",
    );
    steps(o, "steps", &m.rollback);
    o.line("");
}

fn policies(o: &mut Out, m: &Model) {
    if m.no_friday.is_some() || m.quiet_hours.is_some() {
        let live = m.no_friday.is_some();
        let p = if live { "" } else { "# " };
        let line = m
            .no_friday
            .or(m.quiet_hours.as_ref().map(|q| q.1))
            .unwrap_or(1);
        let from = o.from(line);
        o.line(&format!("{p}[window]  {from}"));
        if live {
            o.line("days = [\"mon\", \"tue\", \"wed\", \"thu\"]");
        }
        if let Some((what, line)) = &m.quiet_hours {
            let from = o.from(*line);
            o.todo(
                "",
                &format!("the runbook says \"{what}\" {from}: set the hours and timezone"),
            );
            o.line("# hours = \"22:00-24:00\"");
        }
        o.line("");
    }
    if let Some((d, line)) = &m.monitor {
        let from = o.from(*line);
        o.line(&format!("[monitor]  {from}"));
        o.line(&format!("duration = {}", q(d)));
        o.line("");
    }
}

fn environments(o: &mut Out, m: &Model) {
    for (env, line) in &m.environments {
        let from = o.from(*line);
        o.line(&format!("[environments.{env}]  {from}"));
        if *env == "production" {
            o.line("production = true");
        } else {
            o.todo(
                "",
                &format!("{env}'s own values, e.g. vars = {{ API_HOST = \"…\" }}"),
            );
        }
        o.line("");
    }
}
