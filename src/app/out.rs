//! The sink every room writes to while it handles something: effects for the event loop to carry out, and notices
//! for other rooms, which `update` routes before it returns (a room never calls another room). Imports msg only.

use std::collections::VecDeque;

use super::msg::{Effect, Notice};

/// What handling one action produced so far.
#[derive(Debug, Default)]
pub struct Out {
    effects: Vec<Effect>,
    notices: VecDeque<Notice>,
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
        self.notices.push_back(notice);
    }

    /// Tells the plan's webhook, when it has one (never waited for).
    pub fn notify(&mut self, what: &str, text: String) {
        self.notice(Notice::Notify {
            what: what.into(),
            text,
        });
    }

    /// The oldest notice not routed yet.
    pub(super) fn next_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
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
