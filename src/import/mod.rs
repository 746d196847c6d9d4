//! `deckhand import`: a team's Markdown runbook turned into a plan. The runbook is read with a CommonMark
//! parser ([`markdown`]), its shell blocks cut into commands ([`shell`]) and each command classified
//! ([`classify`]); its prose gives the window, the monitor, thresholds and success counts ([`prose`]). [`build`]
//! gathers the plan's parts with the runbook line each came from, [`finish`] closes it, [`emit`] writes the TOML text. Imports nothing
//! of deckhand but the crate's own dependencies (pulldown-cmark, regex, toml): it never loads or runs a plan.

mod build;
mod classify;
pub(crate) mod emit;
mod finish;
mod forward;
mod markdown;
mod prose;
mod shell;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

/// What the import is told besides the runbook's bytes.
#[derive(Debug, Clone)]
pub struct Options {
    /// The runbook's file name as the comments cite it (`RUNBOOK.md`).
    pub source: String,
    /// The folder the plan will live in: a migrations folder is taken only when it exists there.
    pub plan_dir: PathBuf,
}

/// The plan's text and what the import did.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub toml: String,
    pub summary: Summary,
}

/// What was taken from the runbook, what was guessed, what was left out and why; the variables the plan needs.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub taken: Vec<String>,
    pub guessed: Vec<String>,
    pub left_out: Vec<String>,
    pub variables: Vec<String>,
}

impl Summary {
    /// The summary as lines for stderr.
    pub fn render(&self, source: &str) -> String {
        self.render_as(
            &format!("deckhand import: {source}"),
            ["taken", "guessed", "left out"],
        )
    }

    /// The summary as lines for stderr under `title`, its three lists named by `labels` (`deckhand init` says
    /// found, guessed, not found).
    pub fn render_as(&self, title: &str, labels: [&str; 3]) -> String {
        let mut out = format!(
            "{title}: {} {}, {} {} (# TODO in the plan), {} {}",
            self.taken.len(),
            labels[0],
            self.guessed.len(),
            labels[1],
            self.left_out.len(),
            labels[2]
        );
        for (title, items) in labels
            .iter()
            .zip([&self.taken, &self.guessed, &self.left_out])
        {
            if !items.is_empty() {
                out.push_str(&format!("\n{title}:"));
                for item in items {
                    out.push_str(&format!("\n  {item}"));
                }
            }
        }
        if !self.variables.is_empty() {
            out.push_str(&format!(
                "\nset before `deckhand check`: {}",
                self.variables.join(", ")
            ));
        }
        out
    }
}

/// Turns the runbook's bytes (any encoding: mis-encoded bytes read as U+FFFD; CRLF accepted) into a plan.
pub fn import(bytes: &[u8], options: &Options) -> Imported {
    let text = String::from_utf8_lossy(bytes);
    let blocks = markdown::blocks(&text);
    let model = build::model(&blocks, options);
    let toml = emit::plan(&model, &options.source);
    Imported {
        toml,
        summary: model.summary,
    }
}
