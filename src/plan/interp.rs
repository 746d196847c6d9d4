//! `${NAME}` / `${NAME:-default}` interpolation of plan strings; `$${` is a literal `${` and a `$` not
//! followed by `{` is left alone (shell `$HOME` passes through). Secret-looking names stay masked in
//! [`Resolved::display`].

use super::types::Resolved;

/// Name fragments that mark a variable as secret (compared against the uppercased name).
const SECRET_MARKERS: [&str; 8] = [
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "PASS",
    "AUTH",
];

/// Looks up an environment variable; `None` when unset.
pub(super) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Interpolates `text`. The error is a one-line message (the caller adds file, position and key).
#[cfg(test)]
pub(super) fn interpolate(text: &str, env: EnvLookup<'_>) -> Result<Resolved, String> {
    interpolate_as(text, env, false).map(|i| i.resolved)
}

/// What interpolating a string gave: the string, and each secret it used (name, value).
pub(super) struct Interpolated {
    pub resolved: Resolved,
    pub secrets: Vec<(String, String)>,
}

/// A secret: its name looks secret, or its value holds a password in a URL.
fn is_secret(name: &str, value: &str) -> bool {
    is_secret_name(name) || mask_url_passwords(value) != value
}

/// Interpolates `text`; with `command`, a secret `${NAME}` becomes `"$NAME"` in the text (the caller passes the
/// value in the command's environment), so the value never reaches the command line that `ps` shows.
pub(super) fn interpolate_as(
    text: &str,
    env: EnvLookup<'_>,
    command: bool,
) -> Result<Interpolated, String> {
    let mut secrets = Vec::new();
    let mut value = String::with_capacity(text.len());
    let mut display = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        let (before, after) = rest.split_at(pos);
        value.push_str(before);
        display.push_str(before);
        if let Some(tail) = after.strip_prefix("$${") {
            value.push_str("${");
            display.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(close) = tail.find('}') else {
                return Err(malformed(after));
            };
            let expr = &tail[..close];
            let (name, default) =
                parse_reference(expr).ok_or_else(|| malformed(&after[..close + 3]))?;
            let resolved = lookup(name, default, env)?;
            let secret = is_secret(name, &resolved);
            if secret && command {
                let reference = format!("\"${name}\"");
                value.push_str(&reference);
                display.push_str(&reference);
            } else {
                value.push_str(&resolved);
                if is_secret_name(name) {
                    display.push_str(&format!("${{{name}}}"));
                } else {
                    display.push_str(&resolved);
                }
            }
            if secret {
                secrets.push((name.to_string(), resolved));
            }
            rest = &tail[close + 1..];
        } else {
            value.push('$');
            display.push('$');
            rest = &after[1..];
        }
    }
    value.push_str(rest);
    display.push_str(rest);
    let display = mask_url_passwords(&display);
    // Passwords written out in a URL are secrets too.
    secrets.extend(
        url_passwords(&value)
            .into_iter()
            .map(|p| (String::new(), p)),
    );
    Ok(Interpolated {
        resolved: Resolved { value, display },
        secrets,
    })
}

/// The passwords of the URLs in `text` (`scheme://user:password@host`, `?password=`), percent-decoded too.
pub fn url_passwords(text: &str) -> Vec<String> {
    let masked = mask_url_passwords(text);
    if masked == text {
        return Vec::new();
    }
    let mut out = Vec::new();
    // Walk both strings: where the masked one says `****`, the original holds a password up to the next delimiter.
    let (mut a, mut b) = (text, masked.as_str());
    while let Some(pos) = b.find("****") {
        if a.get(..pos) != b.get(..pos) {
            break;
        }
        let rest = &a[pos..];
        let end = rest
            .find(|c: char| {
                matches!(c, '@' | '&' | '#' | '/' | '"' | '\'' | '`') || c.is_whitespace()
            })
            .unwrap_or(rest.len());
        let password = &rest[..end];
        if !password.is_empty() {
            out.push(password.to_string());
            let decoded: String = url::form_urlencoded::parse(format!("p={password}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default();
            if decoded != password && !decoded.is_empty() {
                out.push(decoded);
            }
        }
        a = &rest[end..];
        b = &b[pos + 4..];
    }
    out
}

/// Replaces the password of every `scheme://user:password@host` in `text` with `****`, so connection strings
/// (written out or coming from a variable whose name does not look secret) never reach the screen or journal.
pub fn mask_url_passwords(text: &str) -> String {
    mask_password_params(&mask_userinfo_passwords(text))
}

/// `scheme://user:password@host` → `scheme://user:****@host`.
fn mask_userinfo_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority
            .rfind('@')
            .and_then(|at| authority[..at].find(':').map(|colon| (colon, at)))
        {
            Some((colon, at)) => {
                let password = &authority[colon + 1..at];
                let placeholder = password.starts_with("${") && password.ends_with('}');
                out.push_str(&authority[..=colon]);
                // A `${NAME}` left by secret masking already hides the value and says where it comes from.
                out.push_str(if placeholder { password } else { "****" });
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `?password=secret&…` / `&password=secret` (libpq and sqlx accept the password as a query parameter).
fn mask_password_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("password=") {
        let (head, tail) = rest.split_at(pos + "password=".len());
        out.push_str(head);
        let boundary = head.len() > "password=".len()
            && matches!(
                head.as_bytes()[head.len() - "password=".len() - 1],
                b'?' | b'&'
            );
        let end = tail
            .find(|c: char| matches!(c, '&' | '#' | '"' | '\'' | '`') || c.is_whitespace())
            .unwrap_or(tail.len());
        let value = &tail[..end];
        let placeholder = value.starts_with("${") && value.ends_with('}');
        out.push_str(if boundary && !placeholder && !value.is_empty() {
            "****"
        } else {
            value
        });
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether a variable's value must never be shown: its uppercased name contains a secret marker.
pub(super) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`: a valid variable name (also used for step `env` keys).
pub(super) fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

/// `NAME` or `NAME:-default` (the text between `${` and `}`).
fn parse_reference(expr: &str) -> Option<(&str, Option<&str>)> {
    let (name, default) = match expr.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (expr, None),
    };
    is_variable_name(name).then_some((name, default))
}

fn lookup(name: &str, default: Option<&str>, env: EnvLookup<'_>) -> Result<String, String> {
    match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_string()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(format!(
            "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
        )),
    }
}

fn malformed(reference: &str) -> String {
    format!("invalid interpolation \"{reference}\": expected ${{NAME}} or ${{NAME:-default}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            "DB_PASSWORD" => Some("hunter2".into()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<Resolved, String> {
        interpolate(text, &env)
    }

    #[test]
    fn resolves_and_masks() {
        let r = run("psql -h ${HOST} -p ${DB_PASSWORD} ${EMPTY:-x}${UNSET:-y}").unwrap();
        assert_eq!(r.value, "psql -h db.internal -p hunter2 xy");
        assert_eq!(r.display, "psql -h db.internal -p ${DB_PASSWORD} xy");
    }

    #[test]
    fn url_passwords_are_masked_in_display_only() {
        let env = |n: &str| {
            (n == "DATABASE_URL").then(|| "postgres://app:s3cr3t@db:5432/shop".to_string())
        };
        let r = interpolate("psql ${DATABASE_URL} -c 'select 1'", &env).unwrap();
        assert_eq!(
            r.value,
            "psql postgres://app:s3cr3t@db:5432/shop -c 'select 1'"
        );
        assert_eq!(
            r.display,
            "psql postgres://app:****@db:5432/shop -c 'select 1'"
        );
        assert_eq!(
            mask_url_passwords("https://example.com/a@b"),
            "https://example.com/a@b"
        );
        assert_eq!(
            mask_url_passwords("x://u@h y://u:p@h"),
            "x://u@h y://u:****@h"
        );
        assert_eq!(
            mask_url_passwords("redis://:pw@cache:6379"),
            "redis://:****@cache:6379"
        );
        assert_eq!(mask_url_passwords("no url here"), "no url here");
        assert_eq!(
            mask_url_passwords("postgres://db/shop?user=app&password=s3cr3t&sslmode=require"),
            "postgres://db/shop?user=app&password=****&sslmode=require"
        );
        assert_eq!(
            mask_url_passwords("pg://h/db?password=x y"),
            "pg://h/db?password=**** y"
        );
        assert_eq!(
            mask_url_passwords("echo mypassword=visible"),
            "echo mypassword=visible"
        );
        assert_eq!(
            mask_url_passwords("pg://u:${DB_PASS}@h"),
            "pg://u:${DB_PASS}@h"
        );
    }

    #[test]
    fn escapes_and_bare_dollars() {
        let r = run("echo $HOME $$ $${HOST} $").unwrap();
        assert_eq!(r.value, "echo $HOME $$ ${HOST} $");
        assert_eq!(r.display, r.value);
        assert_eq!(run("a$${").unwrap().value, "a${");
    }

    #[test]
    fn empty_without_default_stays_empty() {
        assert_eq!(run("[${EMPTY}]").unwrap().value, "[]");
    }

    #[test]
    fn malformed_references() {
        let expected = |r: &str| {
            Err(format!(
                "invalid interpolation \"{r}\": expected ${{NAME}} or ${{NAME:-default}}"
            ))
        };
        assert_eq!(run("x ${A%b} y"), expected("${A%b}"));
        assert_eq!(run("x ${1X}"), expected("${1X}"));
        assert_eq!(run("x ${}"), expected("${}"));
        assert_eq!(run("x ${"), expected("${"));
        assert_eq!(run("x ${HOST"), expected("${HOST"));
        assert_eq!(run("${A:b}"), expected("${A:b}"));
    }

    #[test]
    fn unset_variable() {
        assert_eq!(
            run("${DATABASE_URL}"),
            Err("environment variable DATABASE_URL is not set \
                 (write ${DATABASE_URL:-default} to give a default)"
                .to_string())
        );
    }

    #[test]
    fn secret_and_variable_names() {
        for name in [
            "api_key",
            "GITHUB_TOKEN",
            "PGPASS",
            "oauth_header",
            "Credentials",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        assert!(!is_secret_name("HOST"));
        assert!(is_variable_name("_A1"));
        assert!(!is_variable_name("1A"));
        assert!(!is_variable_name("A-B"));
        assert!(!is_variable_name(""));
    }
}
