//! The logs room: the bounded buffer of every line (steps, `[[logs]]` sources, deckhand's own notes) and the pane's
//! view of it (sources, level, filter, search, error rates).

pub mod buffer;
pub mod view;
