#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! `NO_COLOR` end to end: the real binary in a pseudo-terminal writes no colour escape at all when it is set (and
//! not empty), and does when it is not — while a destructive prompt is open, the screen where colour matters most.

mod common;

use common::pty::PtyApp;

/// The colour parameters of every SGR sequence (`ESC [ … m`) in `raw`: foreground and background colours (30–38,
/// 40–48, 90–97, 100–107). 39 and 49 (the terminal's own colours) are not colours.
fn colour_params(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let sgr = regex::Regex::new(r"\x1b\[([0-9;:]*)m").unwrap();
    let mut found = Vec::new();
    for c in sgr.captures_iter(&text) {
        let mut params = c[1].split([';', ':']);
        while let Some(p) = params.next() {
            let n: u32 = p.parse().unwrap_or(0);
            match n {
                38 | 48 => {
                    // 38;5;N or 38;2;R;G;B: skip the colour's own numbers.
                    let skip = match params.next() {
                        Some("5") => 1,
                        Some("2") => 3,
                        _ => 0,
                    };
                    for _ in 0..skip {
                        params.next();
                    }
                    found.push(c[0].escape_debug().to_string());
                }
                30..=37 | 40..=47 | 90..=97 | 100..=107 => {
                    found.push(c[0].escape_debug().to_string());
                }
                _ => {}
            }
        }
    }
    found
}

/// The demo up to the deploy's prompt (the stage order asks first: no backup yet), with `env`; what was written.
fn demo_prompt(env: &[(&str, &str)]) -> Vec<u8> {
    let data = tempfile::tempdir().unwrap();
    let mut app = PtyApp::start_with_env(&["demo"], data.path(), env);
    app.wait_for("Checklist 0/3");
    app.type_keys(" j j ");
    app.wait_for("Checklist 3/3");
    // Down past the backup, migrate and release-notes rows to the deploy phase.
    app.type_keys("jjjj\r");
    app.wait_for("The backup stage has not passed");
    app.wait_prompt_ready();
    let raw = app.raw.lock().unwrap().clone();
    app.send("\x1b");
    app.wait_for("Cancelled: The backup stage");
    app.send("q");
    assert_eq!(app.wait_exit(), 1, "quit before sign-off: unfinished");
    app.assert_restored();
    raw
}

#[test]
fn no_color_set_writes_no_colour_and_unset_it_does() {
    let plain = demo_prompt(&[("NO_COLOR", "1")]);
    assert_eq!(
        colour_params(&plain),
        Vec::<String>::new(),
        "colour written under NO_COLOR"
    );
    // Reverse video still marks the danger (SGR 7).
    assert!(
        String::from_utf8_lossy(&plain).contains("\x1b[7m"),
        "no reverse video"
    );
    let coloured = demo_prompt(&[("NO_COLOR", "")]);
    assert!(
        !colour_params(&coloured).is_empty(),
        "an empty NO_COLOR leaves the colours on"
    );
}
