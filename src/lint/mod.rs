//! Migration risk analysis: each statement of a migration parsed with squawk-syntax and checked with
//! squawk-linter's rules (plus a few of deckhand's own), sorted into Dangerous, Breaking, Locking and Safe with the
//! safer pattern; `-- deckhand:ignore <rule> <reason>` exemptions; the atomicity preview of each file; and live
//! context from the target database (table sizes, lock holders, PgBouncer). May import `migrate` types.

mod analyze;
mod atomicity;
pub mod batch;
mod ignore;
pub mod impact;
pub mod live;
pub mod rules;
pub mod run;
pub(crate) mod syntax;
mod types;

pub use analyze::{Options, analyze, analyze_migration};
pub use atomicity::atomicity;
pub use types::*;
