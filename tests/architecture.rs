//! The walls in `src/app`, checked on the source: rooms (features) never name another room or the router; the
//! kernel names no room (but `state`, the aggregate of the rooms' states) and no router module; the rooms and the
//! kernel form no import cycle; and no source file passes the house limit of 600 lines.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Features, each owning its state and its update functions.
const ROOMS: &[&str] = &["steps", "migrations", "backup", "health", "logs", "release"];
/// Shared by all: messages, the output sink, the operation, prompts, input layers, text, stages, the state.
const KERNEL: &[&str] = &[
    "msg", "out", "busy", "prompt", "input", "typing", "text", "stage", "state",
];
/// The only modules that know every room: they route actions, notices, answers, gates, quitting and resume.
const ROUTER: &[&str] = &[
    "mod", "update", "route", "confirm", "gate", "quit", "resume",
];

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src/app`: `["release", "checks"]`, `["update"]`, `["mod"]` for app itself.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(app_dir()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.len() > 1 && parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The top-level modules of `app` that `file` names in code (comments and doc comments left out).
fn references(file: &Path) -> BTreeSet<String> {
    let path = module_path(file);
    // What `super` means in this file: the parent of its module (a `mod.rs` is its folder's module).
    let module: Vec<String> = if path == ["mod"] {
        Vec::new()
    } else {
        path.clone()
    };
    let pattern = regex::Regex::new(r"\b(crate::app::|(?:super::)+)(\w+)").unwrap();
    let mut out = BTreeSet::new();
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let code = line.split("//").next().unwrap_or("");
        for c in pattern.captures_iter(code) {
            let (prefix, name) = (&c[1], c[2].to_string());
            let base: Vec<String> = if prefix == "crate::app::" {
                Vec::new()
            } else {
                let ups = prefix.matches("super").count();
                let mut m = module.clone();
                for _ in 0..ups {
                    m.pop();
                }
                m
            };
            // The top-level module the path lands in; an item named at the root of `app` (a re-export) is the
            // router's (`mod`), whatever it re-exports.
            let top = match base.first() {
                Some(m) => m.clone(),
                None if is_module(&name) => name,
                None => "mod".to_string(),
            };
            out.insert(top);
        }
    }
    out
}

fn is_module(name: &str) -> bool {
    ROOMS.contains(&name) || KERNEL.contains(&name) || ROUTER.contains(&name)
}

fn top_of(file: &Path) -> String {
    module_path(file)[0].clone()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&app_dir(), &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let top = top_of(&f);
        let refs = references(&f);
        g.entry(top.clone())
            .or_default()
            .extend(refs.into_iter().filter(|r| *r != top));
    }
    g
}

#[test]
fn every_module_of_app_is_a_room_the_kernel_or_the_router() {
    for m in graph().keys() {
        assert!(
            ROOMS.contains(&m.as_str())
                || KERNEL.contains(&m.as_str())
                || ROUTER.contains(&m.as_str()),
            "src/app/{m} is neither a room, the kernel nor the router: place it in tests/architecture.rs"
        );
    }
}

#[test]
fn rooms_never_name_another_room_or_the_router() {
    let mut bad = Vec::new();
    for (m, refs) in graph() {
        if !ROOMS.contains(&m.as_str()) {
            continue;
        }
        for r in refs {
            if ROOMS.contains(&r.as_str()) || ROUTER.contains(&r.as_str()) {
                bad.push(format!("{m} -> {r}"));
            }
        }
    }
    assert!(bad.is_empty(), "rooms reaching past their walls: {bad:?}");
}

#[test]
fn the_kernel_names_no_room_but_the_state_aggregate_and_no_router() {
    let mut bad = Vec::new();
    for (m, refs) in graph() {
        if !KERNEL.contains(&m.as_str()) {
            continue;
        }
        for r in refs {
            let room = ROOMS.contains(&r.as_str()) && m != "state";
            if room || ROUTER.contains(&r.as_str()) {
                bad.push(format!("{m} -> {r}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "kernel modules depending on rooms or the router: {bad:?}"
    );
}

#[test]
fn rooms_and_kernel_have_no_import_cycle() {
    // The state aggregate names every room's state type; that is how the rooms sit side by side, not a dependency
    // of the kernel on a room's behaviour, so its edges to rooms are left out.
    let g: BTreeMap<String, BTreeSet<String>> = graph()
        .into_iter()
        .filter(|(m, _)| !ROUTER.contains(&m.as_str()))
        .map(|(m, refs)| {
            let keep = refs
                .into_iter()
                .filter(|r| !ROUTER.contains(&r.as_str()))
                .filter(|r| !(m == "state" && ROOMS.contains(&r.as_str())))
                .collect();
            (m, keep)
        })
        .collect();
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        on_path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = on_path.iter().position(|p| p == n) {
            let mut cycle = on_path[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        on_path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, on_path, done) {
                return Some(c);
            }
        }
        on_path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(cycle) = visit(n, &g, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn no_source_file_passes_600_lines() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split along a seam: {long:?}");
}

#[test]
#[ignore]
fn print_graph() {
    for (m, refs) in graph() {
        println!("{m}: {refs:?}");
    }
}
