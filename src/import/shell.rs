//! A fenced shell block cut into commands: one per logical line (`$ ` prompts stripped, `\` continuations and
//! here-docs kept whole), comments kept as notes for the next command, `cd X` carried as the following
//! commands' working folder. Imports nothing of deckhand; small regexes read one line at a time.

use std::sync::LazyLock;

use regex::Regex;

/// One command of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command as the shell gets it (several lines for a continuation or a here-doc).
    pub text: String,
    /// The runbook line it starts on.
    pub line: usize,
    /// The folder a `cd` before it in the same block moved to.
    pub cwd: Option<String>,
    /// The comment just above it, when there was one.
    pub note: Option<String>,
}

/// The languages read as shell: none, bash, sh, shell, console and their kin.
pub fn is_shell(lang: &str) -> bool {
    matches!(
        lang,
        "" | "bash"
            | "sh"
            | "shell"
            | "console"
            | "zsh"
            | "shell-session"
            | "shellsession"
            | "terminal"
    )
}

static HEREDOC: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"<<(-?)\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?"#).ok());

/// The here-doc delimiter a line opens, and whether its end may be indented (`<<-`).
fn heredoc(line: &str) -> Option<(String, bool)> {
    let re = HEREDOC.as_ref()?;
    let c = re.captures(line)?;
    Some((c[2].to_string(), &c[1] == "-"))
}

/// The line without its prompt: `$ cmd` → `cmd`; in a `console` block a line without a prompt is output (None).
fn unprompt(line: &str, console: bool) -> Option<&str> {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("$ ").or_else(|| t.strip_prefix("# $ ")) {
        return Some(rest);
    }
    if t == "$" {
        return Some("");
    }
    if console && !t.starts_with('#') && !t.is_empty() {
        return None;
    }
    Some(t)
}

/// The commands of a block whose first content line is `first_line`.
pub fn split(code: &str, first_line: usize, lang: &str) -> Vec<Command> {
    let console = lang == "console" || lang == "shell-session" || lang == "shellsession";
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let (mut cwd, mut note): (Option<String>, Option<String>) = (None, None);
    let mut i = 0;
    while i < lines.len() {
        let line_no = first_line + i;
        let Some(line) = unprompt(lines[i], console) else {
            i += 1;
            continue;
        };
        i += 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("#!") || is_shell_setting(trimmed) {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let c = comment.trim();
            note = (!c.is_empty()).then(|| c.to_string());
            continue;
        }
        let mut text = trimmed.to_string();
        // Continuations: a line ending in `\` goes on with the next.
        while text.ends_with('\\') && i < lines.len() {
            text.push('\n');
            text.push_str(lines[i].trim_end());
            i += 1;
        }
        if let Some((word, dash)) = heredoc(&text) {
            while i < lines.len() {
                let l = lines[i];
                text.push('\n');
                text.push_str(l);
                i += 1;
                let end = if dash { l.trim_start() } else { l };
                if end.trim_end() == word {
                    break;
                }
            }
        }
        if let Some(dir) = bare_cd(&text) {
            cwd = Some(dir);
            note = None;
            continue;
        }
        out.push(Command {
            text,
            line: line_no,
            cwd: cwd.clone(),
            note: note.take(),
        });
    }
    out
}

/// `set -e`, `set -euo pipefail`: each step runs in its own shell, so these say nothing on their own.
fn is_shell_setting(line: &str) -> bool {
    line.starts_with("set -") || line.starts_with("set +")
}

/// `cd some/dir` alone (not `cd x && make`): the folder, quotes removed.
fn bare_cd(text: &str) -> Option<String> {
    let rest = text.strip_prefix("cd ")?.trim();
    if rest.is_empty() || rest.contains(['&', ';', '|', '\n', ' ']) {
        return None;
    }
    Some(rest.trim_matches(['"', '\'']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(code: &str, lang: &str) -> Vec<String> {
        split(code, 1, lang).into_iter().map(|c| c.text).collect()
    }

    #[test]
    fn prompts_are_stripped_and_console_output_dropped() {
        assert_eq!(
            texts("$ make build\nok\n$ ./deploy.sh\n", "console"),
            vec!["make build", "./deploy.sh"]
        );
        assert_eq!(texts("$ make\n", "bash"), vec!["make"]);
    }

    #[test]
    fn continuations_are_one_command() {
        let c = split("docker run \\\n  --rm \\\n  app\necho done\n", 10, "sh");
        assert_eq!(c[0].text, "docker run \\\n  --rm \\\n  app");
        assert_eq!(c[0].line, 10);
        assert_eq!(c[1].text, "echo done");
        assert_eq!(c[1].line, 13);
    }

    #[test]
    fn heredocs_are_kept_whole() {
        let code = "psql \"$DATABASE_URL\" <<'SQL'\nselect 1;\n# not a comment\nSQL\necho after\n";
        let c = texts(code, "bash");
        assert_eq!(
            c,
            vec![
                "psql \"$DATABASE_URL\" <<'SQL'\nselect 1;\n# not a comment\nSQL",
                "echo after"
            ]
        );
        let dash = texts("cat <<-EOF\n\thello\n\tEOF\nls\n", "sh");
        assert_eq!(dash, vec!["cat <<-EOF\n\thello\n\tEOF", "ls"]);
    }

    #[test]
    fn comments_become_notes_and_cd_becomes_cwd() {
        let c = split(
            "set -e\n# Build it\ncd app\nmake\ncd ops && ./x.sh\n",
            1,
            "",
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].text, "make");
        assert_eq!(c[0].cwd.as_deref(), Some("app"));
        assert_eq!(c[0].note, None);
        assert_eq!(c[1].text, "cd ops && ./x.sh");
        let n = split("# Deploy\n./deploy.sh\n", 1, "bash");
        assert_eq!(n[0].note.as_deref(), Some("Deploy"));
    }

    #[test]
    fn empty_and_comment_only_blocks_give_nothing() {
        assert!(texts("", "bash").is_empty());
        assert!(texts("# only a comment\n\n", "bash").is_empty());
    }
}
