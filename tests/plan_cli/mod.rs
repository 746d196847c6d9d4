//! Shared by the tests of the commands that write plans (`tests/import.rs`, `tests/init.rs`): the real binary
//! run in a folder with its own data folder and chosen variables, and readers of the plan's TOML value.

use std::path::Path;
use std::process::{Command, Output};

/// `deckhand ARGS` in `dir` (its data folder inside it), with `vars` set and no database URL inherited.
pub fn deckhand(args: &[&str], dir: &Path, vars: &[(&str, &str)]) -> Output {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deckhand"));
    cmd.args(args)
        .env("DECKHAND_DATA_DIR", &data)
        .env_remove("DATABASE_URL")
        .env_remove("DB_URL")
        .current_dir(dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The table array `key` of `v` (empty when absent).
pub fn array<'a>(v: &'a toml::Value, key: &str) -> Vec<&'a toml::Value> {
    v.get(key)
        .and_then(|a| a.as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// The string `key` of `v` (empty when absent).
pub fn s<'a>(v: &'a toml::Value, key: &str) -> &'a str {
    v.get(key).and_then(|x| x.as_str()).unwrap_or_default()
}

/// The `[[phase]]` named `name`.
pub fn phase<'a>(plan: &'a toml::Value, name: &str) -> &'a toml::Value {
    array(plan, "phase")
        .into_iter()
        .find(|p| s(p, "name") == name)
        .unwrap_or_else(|| panic!("no phase {name}"))
}
