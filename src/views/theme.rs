//! How meaning is drawn: one style per role (danger, alert, ok, warning, muted, focus, …), in colour or, with
//! `NO_COLOR` set, without any (https://no-color.org). The console reads `NO_COLOR` once at startup and hands the
//! [`Theme`] to every view; views never read the environment.
//!
//! Colour is never the only carrier of meaning: danger and failure also have their symbols (`✗`, `!`, `ALERT`) and
//! weight (bold; an alert and a destructive prompt's title in reverse video), so without colour they stay
//! unmistakable. The colours chosen read on a dark and on a light background alike: red, green, blue and magenta on
//! the terminal's own background, and a coloured background only with an explicit foreground. Muted text is the
//! terminal's own colour, dimmed — never grey or white, which vanish on one background or the other.

use std::ffi::OsStr;

use ratatui::style::{Color, Modifier, Style};

/// The styles of the screen's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    colour: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::COLOUR
    }
}

impl Theme {
    /// The default: colours that read on dark and light backgrounds.
    pub const COLOUR: Theme = Theme { colour: true };
    /// No colour at all: weight, reverse video and symbols only.
    pub const PLAIN: Theme = Theme { colour: false };

    /// The theme for a `NO_COLOR` value as the environment holds it: set and not empty turns colour off.
    pub fn for_no_color(value: Option<&OsStr>) -> Theme {
        match value {
            Some(v) if !v.is_empty() => Theme::PLAIN,
            _ => Theme::COLOUR,
        }
    }

    /// Whether this theme draws colours.
    pub fn coloured(self) -> bool {
        self.colour
    }

    /// `colour` as the foreground, or `plain` without colour.
    fn pick(self, colour: Color, plain: Style) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            plain
        }
    }

    /// What can do harm or has failed: red, or bold without colour.
    pub fn danger(self) -> Style {
        self.pick(Color::Red, Style::new().add_modifier(Modifier::BOLD))
    }

    /// An alert that is up, and the title of a destructive prompt: red reverse video, or reverse video.
    pub fn alarm(self) -> Style {
        self.danger()
            .add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    /// What went well.
    pub fn ok(self) -> Style {
        self.pick(Color::Green, Style::new())
    }

    /// Under way, needing attention, not a failure (yellow would vanish on a light background).
    pub fn warn(self) -> Style {
        self.pick(Color::Magenta, Style::new())
    }

    /// Secondary text: hints, details, unfocused borders. Dimmed in both themes.
    pub fn muted(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// The focused pane, the text being typed, a prompt that is not destructive.
    pub fn focus(self) -> Style {
        self.pick(Color::Blue, Style::new().add_modifier(Modifier::BOLD))
    }

    /// A colour of its own for the `[[logs]]` source with this index (its tag); none without colour.
    pub fn source(self, index: usize) -> Style {
        const COLOURS: [Color; 3] = [Color::Blue, Color::Magenta, Color::Green];
        self.pick(COLOURS[index % COLOURS.len()], Style::new())
    }

    /// A Breaking migration finding (Dangerous ones are `danger`).
    pub fn breaking(self) -> Style {
        self.pick(Color::Magenta, Style::new())
            .add_modifier(Modifier::BOLD)
    }

    /// A Locking migration finding.
    pub fn locking(self) -> Style {
        self.pick(Color::Blue, Style::new())
    }

    /// The environment badge: production white on red (reverse video without colour), others black on green.
    pub fn environment(self, production: bool) -> Style {
        match (self.colour, production) {
            (true, true) => Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            (true, false) => Style::new().fg(Color::Black).bg(Color::Green),
            (false, true) => Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            (false, false) => Style::new().add_modifier(Modifier::REVERSED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_not_empty_turns_colour_off() {
        assert_eq!(Theme::for_no_color(None), Theme::COLOUR);
        assert_eq!(Theme::for_no_color(Some(OsStr::new(""))), Theme::COLOUR);
        assert_eq!(Theme::for_no_color(Some(OsStr::new("1"))), Theme::PLAIN);
        assert_eq!(Theme::for_no_color(Some(OsStr::new("0"))), Theme::PLAIN);
    }

    #[test]
    fn the_plain_theme_has_no_colour_and_danger_keeps_its_weight() {
        let t = Theme::PLAIN;
        for s in [
            t.danger(),
            t.alarm(),
            t.ok(),
            t.warn(),
            t.muted(),
            t.focus(),
            t.source(3),
            t.breaking(),
            t.locking(),
            t.environment(true),
            t.environment(false),
        ] {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
        assert!(t.danger().add_modifier.contains(Modifier::BOLD));
        assert!(
            t.alarm()
                .add_modifier
                .contains(Modifier::BOLD | Modifier::REVERSED)
        );
        assert!(
            t.environment(true)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}
