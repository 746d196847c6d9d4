//! The plan file exactly as written: serde structs with unknown keys denied and spans kept.
//! Required keys are `Option` here so that a missing key is reported by validation, at the table
//! that lacks it, with the full key path; see `build.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a plan document")]
pub(super) struct RawPlan {
    pub project: Option<Spanned<RawProject>>,
    #[serde(default)]
    pub checklist: Vec<Spanned<RawChecklistItem>>,
    #[serde(default)]
    pub phase: Vec<Spanned<RawPhase>>,
    pub database: Option<Spanned<RawDatabase>>,
    pub backup: Option<Spanned<RawBackup>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [backup] table with dir")]
pub(super) struct RawBackup {
    pub dir: Option<Spanned<String>>,
    pub format: Option<Spanned<String>>,
    pub jobs: Option<Spanned<i64>>,
    pub keep: Option<Spanned<i64>>,
    pub bin_dir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [database] table with url and migrations"
)]
pub(super) struct RawDatabase {
    pub url: Option<Spanned<String>>,
    pub migrations: Option<Spanned<String>>,
    pub format: Option<Spanned<String>>,
    pub lock_timeout: Option<Spanned<String>>,
    pub statement_timeout: Option<Spanned<String>>,
    pub lock_wait: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [project] table with name and environment"
)]
pub(super) struct RawProject {
    pub name: Option<Spanned<String>>,
    pub environment: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[checklist]] table with item")]
pub(super) struct RawChecklistItem {
    pub item: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[phase]] table with name and steps"
)]
pub(super) struct RawPhase {
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub destructive: bool,
    #[serde(default)]
    pub needs_backup: bool,
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a step table such as { run = \"./deploy.sh\" }"
)]
pub(super) struct RawStep {
    pub run: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub cwd: Option<Spanned<String>>,
    /// Keys are plain strings (not `Spanned`) so serde_path_to_error can name them in key paths.
    /// toml hands tables over sorted by key; `build.rs` restores file order from the value spans.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
}
