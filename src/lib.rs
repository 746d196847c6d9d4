//! deckhand: a terminal console for guided, recorded production deployments.
//!
//! The binary (`src/main.rs`) is thin; everything lives in this library so tests can reach it.
//! Dependency direction: `console` (the event loop) -> `app`, `views`, `runner`; `views` -> `app` (read only);
//! `runner` -> `plan`, `journal`; `app` -> `plan` types and message types only; `drift` -> `plan`, `migrate`, `backup`;
//! `init` -> `import` (its TOML string helpers and summary), `migrate` (format detection).

pub mod app;
pub mod backup;
pub mod console;
pub mod drift;
pub mod import;
pub mod init;
pub mod journal;
pub mod lint;
pub mod logs;
pub mod migrate;
pub mod plan;
pub mod runner;
pub mod safe_fs;
pub mod sanitize;
pub mod secrets;
pub mod team;
pub mod views;
