//! The validated plan model handed to the rest of deckhand. Built by [`super::load`] / [`super::parse`];
//! plain data, no I/O.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A loaded, interpolated and validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The plan file as given on the command line (used in messages and the journal).
    pub path: PathBuf,
    /// sha256 of the plan file's bytes, lowercase hex.
    pub checksum: String,
    pub project: Project,
    pub checklist: Vec<ChecklistItem>,
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// The word a production confirmation asks the operator to type.
    pub environment: String,
}

impl Project {
    /// Production gets red, and typed confirmations.
    pub fn is_production(&self) -> bool {
        let env = self.environment.to_ascii_lowercase();
        env == "production" || env == "prod"
    }
}

#[derive(Debug, Clone)]
pub struct ChecklistItem {
    pub item: String,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub destructive: bool,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub run: Resolved,
    pub timeout: Option<Duration>,
    /// Absolute, or relative to the plan file's folder (already joined).
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, Resolved)>,
}

/// An interpolated string: `value` is what runs, `display` is what may be shown (screen, journal, report).
/// In `display`, variables whose names look secret (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, PASS, AUTH)
/// stay as `${NAME}`; other variables are shown resolved. `Debug` prints only `display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    pub display: String,
}

impl Resolved {
    /// A string with no interpolation in it.
    pub fn literal(s: &str) -> Self {
        Resolved {
            value: s.to_string(),
            display: s.to_string(),
        }
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.display, f)
    }
}
