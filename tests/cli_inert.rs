//! Everything the command line prints is inert (issue 16, defect 4 / must-work 4): a table of hostile names and
//! texts — OSC 0/2/52, CSI, DCS, C1 controls, bidi overrides, NUL, BEL, backspace, carriage return, DEL, invalid
//! UTF-8 — put in a plan's project, checklist and phase names, in migration file names and SQL comments, and in a
//! run's journal, then pushed through `check`, `status`, `lint` (human and JSON), `migrate`, `history` and `report
//! --stdout` of the real binary: no byte that a terminal would act on reaches stdout or stderr.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Hostile texts as TOML basic-string escapes (each also used raw in file names where a file name can hold it).
const HOSTILE: [(&str, &str); 16] = [
    ("OSC 0 title", "\\u001b]0;PWNED\\u0007"),
    ("OSC 2 title", "\\u001b]2;PWNED\\u001b\\\\"),
    ("OSC 52 clipboard", "\\u001b]52;c;cm0gLXJmIC8=\\u0007"),
    ("CSI clear screen", "\\u001b[2J"),
    ("CSI cursor home", "\\u001b[H"),
    ("CSI erase line", "\\u001b[2K"),
    ("DCS", "\\u001bPq#0;2;0;0;0\\u001b\\\\"),
    ("C1 CSI", "\\u009b2J"),
    ("C1 OSC", "\\u009d0;PWNED\\u009c"),
    ("bidi override", "\\u202eevil"),
    ("bidi isolate", "\\u2066x\\u2069"),
    ("NUL", "a\\u0000b"),
    ("BEL", "ding\\u0007"),
    ("backspace", "abc\\u0008\\u0008\\u0008xyz"),
    ("carriage return", "ok\\rPWNED"),
    ("DEL", "a\\u007fb"),
];

/// Whether `bytes` hold something a terminal would act on: C0 controls but newline, DEL, C1 controls (UTF-8
/// `C2 80`–`C2 9F`), bidi controls, or bytes that are not UTF-8.
fn live(bytes: &[u8]) -> Option<String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Some(format!("invalid UTF-8 at {}", e.valid_up_to())),
    };
    text.chars()
        .find(|c| {
            (*c < ' ' && *c != '\n')
                || *c == '\u{7f}'
                || ('\u{80}'..='\u{9f}').contains(c)
                || ('\u{202a}'..='\u{202e}').contains(c)
                || ('\u{2066}'..='\u{2069}').contains(c)
        })
        .map(|c| format!("U+{:04X}", u32::from(c)))
}

fn assert_inert(out: &Output, what: &str) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if let Some(found) = live(bytes) {
            panic!(
                "{what}: {stream} holds {found}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

fn deckhand(args: &[&std::ffi::OsStr], data: &Path, cwd: &Path) -> Output {
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .env("DECKHAND_DATA_DIR", data)
        .current_dir(cwd)
        .output()
        .expect("run deckhand")
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn every_command_prints_hostile_names_and_texts_inert() {
    for (what, text) in HOSTILE {
        let dir = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        // A file name holding the raw text (a file name cannot hold NUL or '/'), and an SQL comment with it.
        let raw = toml_unescape(text);
        let mut name = b"001_".to_vec();
        name.extend(raw.bytes().filter(|b| *b != 0 && *b != b'/'));
        name.extend_from_slice(b"\xff.sql");
        let file = migrations.join(std::ffi::OsStr::from_bytes(&name));
        std::fs::write(
            &file,
            format!("CREATE TABLE t (id int); -- {raw}\nDROP TABLE t;\n"),
        )
        .unwrap();
        let db = dir.path().join("shop.db");
        let plan = dir.path().join("deckhand.toml");
        std::fs::write(
            &plan,
            format!(
                "[project]\nname = \"shop {text}\"\nenvironment = \"staging\"\n\n\
                 [[checklist]]\nitem = \"tick {text}\"\n\n\
                 [[phase]]\nname = \"Deploy {text}\"\nsteps = [{{ run = \"echo '{text}'\" }}]\n\n\
                 [database]\nurl = \"sqlite://{}\"\nmigrations = \"migrations\"\nformat = \"plain\"\n",
                db.display()
            ),
        )
        .unwrap();
        std::fs::write(&db, "").unwrap();
        let p = plan.as_os_str();
        let m = migrations.as_os_str();
        let cwd = dir.path();
        for (args, label) in [
            (vec![os("check"), p], "check"),
            (vec![os("status"), p], "status"),
            (vec![os("status"), p, os("--json")], "status --json"),
            (vec![os("lint"), m], "lint"),
            (
                vec![os("lint"), m, os("--format"), os("json")],
                "lint --format json",
            ),
            (
                vec![
                    os("migrate"),
                    p,
                    os("--no-backup"),
                    os(&raw.replace('\0', "")),
                    os("--accept-loss"),
                    os("t"),
                    os("--format"),
                    os("json"),
                ],
                "migrate",
            ),
            (vec![os("history")], "history"),
            (vec![os("report"), os("--stdout")], "report --stdout"),
        ] {
            let out = deckhand(&args, data.path(), cwd);
            assert_inert(&out, &format!("{what} through {label}"));
        }
    }
}

/// The raw text a TOML basic-string escape stands for (`\u001b`, `\\`, `\r`).
fn toml_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
