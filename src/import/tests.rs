//! The import as a whole, on small runbooks: the text it writes is valid TOML, placeholders and guesses are
//! marked, names are fit for a plan. Test-only.

use std::path::PathBuf;

use super::{Imported, Options, import};

fn run(md: &str) -> (Imported, toml::Value) {
    let options = Options {
        source: "RUNBOOK.md".into(),
        plan_dir: PathBuf::from("/nonexistent-plan-dir"),
    };
    let imported = import(md.as_bytes(), &options);
    let value: toml::Value =
        toml::from_str(&imported.toml).unwrap_or_else(|e| panic!("{e}\n{}", imported.toml));
    (imported, value)
}

#[test]
fn a_url_that_does_not_parse_becomes_a_variable() {
    let (i, v) = run("## Smoke test\n\n```bash\ncurl -f https://<your-domain>/api/health\n```\n");
    assert_eq!(v["smoke"][0]["url"].as_str(), Some("${HEALTH_URL}"));
    assert!(
        i.toml
            .contains("# TODO: the runbook says https://<your-domain>/api/health")
    );
    assert_eq!(i.summary.variables, ["HEALTH_URL"]);
    // A smoke check alone is not a plan: the placeholder phase says so.
    assert_eq!(v["phase"][0]["name"].as_str(), Some("Deploy"));
}

#[test]
fn a_database_whose_folder_is_not_there_is_written_commented_out() {
    let md = "## Backup\n\n```sh\npg_dump -Fc shop > b.dump\n```\n\n## Migrate\n\n```sh\nsqlx migrate run\n```\n";
    let (i, v) = run(md);
    assert!(v.get("database").is_none() && v.get("backup").is_none());
    assert!(i.toml.contains("# [database]  # from RUNBOOK.md:10"));
    assert!(i.toml.contains("# migrations = \"migrations\""));
    assert!(i.toml.contains("# [backup]  # from RUNBOOK.md:4"));
    assert!(
        i.summary
            .left_out
            .iter()
            .any(|l| l.contains("[database] commented out"))
    );
    // Nothing else to run: a placeholder phase that fails, marked.
    assert_eq!(v["phase"][0]["name"].as_str(), Some("Deploy"));
    assert!(i.toml.contains("# TODO: the runbook gives no shell block"));
}

#[test]
fn headings_of_emoji_alone_and_twice_the_same_give_unique_names() {
    let md = "## 🚀\n\n```sh\nmake a\n```\n\n## Deploy\n\n```sh\nmake b\n```\n\n## Deploy\n\n```sh\nmake c\n```\n";
    let (_, v) = run(md);
    let names: Vec<&str> = v["phase"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Section at line 1", "Deploy", "Deploy (2)"]);
}

#[test]
fn shell_expansions_stay_the_shells_and_quotes_survive() {
    let md = "## Deploy\n\n```bash\necho \"${TAG}\" 'it''s' \"a\\\"b\" \\\\\n```\n";
    let (_, v) = run(md);
    assert_eq!(
        v["phase"][0]["steps"][0]["run"].as_str(),
        Some("echo \"$${TAG}\" 'it''s' \"a\\\"b\" \\\\")
    );
}

#[test]
fn invalid_utf8_and_crlf_are_read() {
    let mut md = b"## Deploy \xff\r\n\r\n```sh\r\n./deploy.sh\r\n```\r\n".to_vec();
    md.extend_from_slice(b"- [ ] caf\xe9\r\n");
    let options = Options {
        source: "RUNBOOK.md".into(),
        plan_dir: PathBuf::from("."),
    };
    let i = import(&md, &options);
    let v: toml::Value = toml::from_str(&i.toml).unwrap();
    assert_eq!(v["phase"][0]["name"].as_str(), Some("Deploy \u{fffd}"));
    assert_eq!(
        v["phase"][0]["steps"][0]["run"].as_str(),
        Some("./deploy.sh")
    );
    assert_eq!(v["phase"][0]["destructive"].as_bool(), Some(true));
    assert!(i.toml.contains("# from RUNBOOK.md:4"));
}
