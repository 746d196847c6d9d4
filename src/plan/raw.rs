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
    #[serde(default)]
    pub health: Vec<Spanned<RawHealth>>,
    #[serde(default)]
    pub verify: Vec<Spanned<RawVerify>>,
    #[serde(default)]
    pub logs: Vec<Spanned<RawLogs>>,
    /// Same keys as `[[health]]`.
    #[serde(default)]
    pub smoke: Vec<Spanned<RawHealth>>,
    pub rollback: Option<Spanned<RawRollback>>,
    pub window: Option<Spanned<RawWindow>>,
    pub monitor: Option<Spanned<RawMonitor>>,
    pub notify: Option<Spanned<RawNotify>>,
    pub release: Option<Spanned<RawRelease>>,
    pub team: Option<Spanned<RawTeam>>,
    /// Keys are plain strings so serde_path_to_error names them; file order comes back from the spans.
    pub environments: Option<Spanned<BTreeMap<String, Spanned<RawEnvironment>>>>,
}

/// `[environments.NAME]`: flags, variables, and whole-section overrides of the base plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [environments.NAME] table")]
pub(super) struct RawEnvironment {
    pub production: Option<bool>,
    pub allow_seed: Option<bool>,
    /// Consulted by `${VAR}` before the process environment.
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<String>>,
    pub database: Option<Spanned<RawDatabase>>,
    pub backup: Option<Spanned<RawBackup>>,
    pub health: Option<Vec<Spanned<RawHealth>>>,
    pub smoke: Option<Vec<Spanned<RawHealth>>>,
    pub verify: Option<Vec<Spanned<RawVerify>>>,
    pub logs: Option<Vec<Spanned<RawLogs>>>,
    pub rollback: Option<Spanned<RawRollback>>,
    pub window: Option<Spanned<RawWindow>>,
    pub monitor: Option<Spanned<RawMonitor>>,
    pub notify: Option<Spanned<RawNotify>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [rollback] table with steps, before_restore and/or database"
)]
pub(super) struct RawRollback {
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub before_restore: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub database: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [window] table with days, hours and timezone"
)]
pub(super) struct RawWindow {
    pub days: Option<Spanned<Vec<Spanned<String>>>>,
    pub hours: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [monitor] table with duration")]
pub(super) struct RawMonitor {
    pub duration: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [release] table with order")]
pub(super) struct RawRelease {
    pub order: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [team] table with database")]
pub(super) struct RawTeam {
    pub database: Option<Spanned<String>>,
    pub schema: Option<Spanned<String>>,
    pub role: Option<Spanned<String>>,
    pub approve: Option<Spanned<Vec<Spanned<String>>>>,
    pub approval_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [notify] table with webhook")]
pub(super) struct RawNotify {
    pub webhook: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
}

/// `expect_status = [200, 204]` or `expect_status = "200-299"`.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of status codes such as [200, 204], or a range such as \"200-299\""
)]
pub(super) enum RawStatus {
    List(Vec<i64>),
    Range(String),
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[health]] table with name and url or command"
)]
pub(super) struct RawHealth {
    pub name: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub command: Option<Spanned<String>>,
    pub max: Option<Spanned<f64>>,
    pub min: Option<Spanned<f64>>,
    pub method: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub expect_status: Option<Spanned<RawStatus>>,
    pub body_contains: Option<Spanned<String>>,
    pub json_pointer: Option<Spanned<String>>,
    pub json_equals: Option<Spanned<toml::Value>>,
    pub max_latency: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    #[serde(default)]
    pub insecure: bool,
    pub fail_after: Option<Spanned<i64>>,
    pub recover_after: Option<Spanned<i64>>,
    pub latency_factor: Option<Spanned<f64>>,
    pub error_rate: Option<Spanned<f64>>,
    pub window: Option<Spanned<String>>,
    pub baseline_samples: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[verify]] table with name, sql and expect"
)]
pub(super) struct RawVerify {
    pub name: Option<Spanned<String>>,
    pub sql: Option<Spanned<String>>,
    pub expect: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [[logs]] table with name and command or file"
)]
pub(super) struct RawLogs {
    pub name: Option<Spanned<String>>,
    pub command: Option<Spanned<String>>,
    pub file: Option<Spanned<String>>,
    pub error: Option<Spanned<String>>,
    pub quiet_after: Option<Spanned<String>>,
    pub restart: Option<bool>,
    pub error_rate: Option<Spanned<f64>>,
    pub window: Option<Spanned<String>>,
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
    pub impact_timeout: Option<Spanned<String>>,
    pub tunnel: Option<Spanned<String>>,
    pub tunnel_port: Option<Spanned<i64>>,
    pub tunnel_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [project] table with name and environment"
)]
pub(super) struct RawProject {
    pub name: Option<Spanned<String>>,
    pub environment: Option<Spanned<String>>,
    pub production: Option<bool>,
    pub allow_seed: Option<bool>,
    pub shared_data: Option<bool>,
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
    #[serde(default)]
    pub seed: bool,
    #[serde(default)]
    pub optional: bool,
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
