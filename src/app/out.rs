//! The sink every room writes to while it handles something: effects for the event loop to carry out, and notices
//! for other rooms, which `update` routes before it returns (a room never calls another room). Imports msg only.

use std::collections::VecDeque;

use super::msg::{Effect, Notice};

/// What handling one action produced so far.
#[derive(Debug, Default)]
pub struct Out {
    effects: Vec<Effect>,
    /// Each notice with the number of effects asked for before it: what routing it produces goes there.
    notices: VecDeque<(Notice, usize)>,
}

impl Out {
    /// A request for the event loop.
    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    pub fn extend(&mut self, effects: impl IntoIterator<Item = Effect>) {
        self.effects.extend(effects);
    }

    /// News for another room, routed by `update` once the current handler returns.
    pub fn notice(&mut self, notice: Notice) {
        self.notices.push_back((notice, self.effects.len()));
    }

    /// Tells the plan's webhook, when it has one (never waited for).
    pub fn notify(&mut self, what: &str, text: String) {
        self.notice(Notice::Notify {
            what: what.into(),
            text,
        });
    }

    /// The oldest notice not routed yet, and where its consequences belong among the effects.
    pub(super) fn next_notice(&mut self) -> Option<(Notice, usize)> {
        self.notices.pop_front()
    }

    /// What routing a notice raised at `at` produced, put where the notice was raised: its effects before those
    /// asked for after it (as if the room had called the other room then), its own notices next in line.
    pub(super) fn splice_at(&mut self, at: usize, routed: Out) {
        let added = routed.effects.len();
        for (_, pos) in self.notices.iter_mut() {
            if *pos >= at {
                *pos += added;
            }
        }
        for (notice, pos) in routed.notices.into_iter().rev() {
            self.notices.push_front((notice, at + pos));
        }
        self.effects.splice(at..at, routed.effects);
    }

    /// The effects, in the order they were asked for (every notice must have been routed).
    pub fn into_effects(self) -> Vec<Effect> {
        debug_assert!(
            self.notices.is_empty(),
            "unrouted notices: {:?}",
            self.notices
        );
        self.effects
    }
}
