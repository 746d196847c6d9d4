//! The live-logs pipeline shared by the `[[logs]]` runners and the benchmarks: splitting a byte stream into
//! capped lines ([`split`]), turning raw lines into safe lines with a level ([`line`], its byte classes in [`classify`]) packed in batches ([`batch`]),
//! regexes run over many lines at once ([`pattern`]),
//! following a file across rotation and truncation ([`follow`]) and the restart backoff of commands ([`backoff`]).
//! No async and no channel here; may import `runner` message types and `sanitize`.

pub mod backoff;
pub mod batch;
pub mod block;
mod classify;
pub mod follow;
pub mod line;
pub mod pack;
pub mod pattern;
pub mod split;

/// Longest line kept; the rest of a longer line is dropped and the line marked truncated.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Size of one read from a pipe or file; every read becomes at most one batch.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;
