//! How `pg_dump`/`pg_restore` are pointed at a database: a libpq connection URI derived from the plan's URL with
//! the password taken out and every query parameter libpq does not know dropped (Prisma adds `schema`,
//! `connection_limit`, `pgbouncer`, ...; libpq refuses unknown ones). The password reaches the child only through
//! its environment (`PGPASSWORD`): a command line is readable by every user in `/proc/<pid>/cmdline`. Also: the
//! URL with its database swapped for another (a rehearsal copy), and scrubbing the password out of a tool's text.

use std::fmt;

use tokio::process::Command;

use crate::backup::BackupError;

/// `application_name` of the tools' sessions (`pg_stat_activity` shows who is dumping).
pub const APP_NAME: &str = "deckhand-backup";

/// What replaces the password wherever it would have been shown.
const MASK: &str = "********";

/// The libpq connection keywords passed on to the tools. `password` goes to the environment instead;
/// `application_name` is set by deckhand; `sslpassword` (a key's passphrase) would be readable on the command
/// line, so it is dropped too; `replication` would turn the session into a replication one.
const LIBPQ_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "passfile",
    "connect_timeout",
    "client_encoding",
    "options",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "require_auth",
    "channel_binding",
    "gssencmode",
    "gsslib",
    "gssdelegation",
    "krbsrvname",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

/// A database as the tools see it. `Debug` never shows the password.
#[derive(Clone)]
pub struct Conn {
    /// `postgresql://user@host:port/db?sslmode=...`: no password, only libpq keywords.
    uri: String,
    password: Option<String>,
    /// Every password the URL holds, as written (percent-encoded) and decoded: all are scrubbed.
    secrets: Vec<String>,
    /// The database's name (`dbname=` parameter, else the URL's path, else the user name, as libpq does).
    pub dbname: String,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("uri", &self.uri)
            .field("password", &self.password.as_ref().map(|_| MASK))
            .field("dbname", &self.dbname)
            .finish()
    }
}

impl Conn {
    /// Reads a `postgres://` / `postgresql://` URL. The error never quotes the URL (it holds the password).
    pub fn parse(url: &str) -> Result<Conn, BackupError> {
        let unreadable = |why: &str| {
            BackupError::Refused(format!(
                "the [database] url cannot be used for pg_dump/pg_restore: {why}"
            ))
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(unreadable(
                "it is not a PostgreSQL URL (postgres://user@host:port/database)",
            ));
        }
        let mut parsed = url::Url::parse(url).map_err(|e| unreadable(&e.to_string()))?;
        let mut secrets = Vec::new();
        let mut password = None;
        if let Some(p) = parsed.password().filter(|p| !p.is_empty()) {
            password = Some(percent_decode(p));
            secrets.extend([p.to_string(), percent_decode(p)]);
        }
        let mut kept = Vec::new();
        let mut query_dbname = None;
        for pair in parsed.query().unwrap_or("").split('&') {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key);
            if key == "password" {
                // As libpq: a `password` parameter wins over the one in the authority.
                if !value.is_empty() {
                    password = Some(percent_decode(value));
                    secrets.extend([value.to_string(), percent_decode(value)]);
                }
            } else if LIBPQ_KEYWORDS.contains(&key.as_str()) {
                if key == "dbname" {
                    query_dbname = Some(percent_decode(value));
                }
                kept.push(pair.to_string());
            }
        }
        if parsed.password().is_some() && parsed.set_password(None).is_err() {
            return Err(unreadable("its password cannot be separated from it"));
        }
        let query = kept.join("&");
        parsed.set_query((!query.is_empty()).then_some(query.as_str()));
        parsed.set_fragment(None);
        let path_dbname = percent_decode(parsed.path().trim_start_matches('/'));
        let dbname = query_dbname
            .filter(|d| !d.is_empty())
            .or_else(|| (!path_dbname.is_empty()).then_some(path_dbname))
            .or_else(|| {
                let user = percent_decode(parsed.username());
                (!user.is_empty()).then_some(user)
            })
            .or_else(|| std::env::var("PGDATABASE").ok())
            .or_else(|| std::env::var("PGUSER").ok())
            .ok_or_else(|| unreadable("it names no database"))?;
        Ok(Conn {
            uri: parsed.to_string(),
            password,
            secrets,
            dbname,
        })
    }

    /// The URI for `--dbname=`: holds no password.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The `--dbname=<uri>` argument.
    pub fn dbname_arg(&self) -> String {
        format!("--dbname={}", self.uri())
    }

    /// Gives the child the password (environment only) and deckhand's application name.
    pub fn apply_env(&self, cmd: &mut Command) {
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        cmd.env("PGAPPNAME", APP_NAME);
    }

    /// `text` with every form of the password replaced by a mask.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        let mut secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        // Longest first, so a shorter form inside a longer one does not leave a part of it behind.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret, MASK);
        }
        out
    }
}

/// `url` with its database replaced by `name`: the path becomes `/<name>` and any `dbname=` query parameter is
/// dropped. Works on the text, so it serves both a URL's real value and its display form (where a masked
/// `${PASSWORD}` must stay as written).
pub fn with_database(url: &str, name: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let after = &rest[authority_end..];
    let (before_fragment, fragment) = match after.find('#') {
        Some(i) => after.split_at(i),
        None => (after, ""),
    };
    let query = before_fragment
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("");
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| percent_decode(pair.split('=').next().unwrap_or("")) != "dbname")
        .collect();
    let mut out = format!(
        "{}{}/{}",
        &url[..scheme_end],
        &rest[..authority_end],
        percent_encode(name)
    );
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    out
}

/// Decodes `%XX` escapes (as libpq does in a URI); anything else, including a malformed escape, is kept as is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes everything but unreserved characters, for a URL path segment.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_leaves_the_uri_and_prisma_parameters_are_dropped() {
        let c = Conn::parse(
            "postgresql://app:s3cr%40t@db:6432/shop?schema=app&connection_limit=5&sslmode=require\
             &pgbouncer=true&application_name=web&password=other%21&options=-c%20x%3Dy",
        )
        .unwrap();
        assert_eq!(
            c.uri(),
            "postgresql://app@db:6432/shop?sslmode=require&options=-c%20x%3Dy"
        );
        assert_eq!(c.password.as_deref(), Some("other!"));
        assert_eq!(c.dbname, "shop");
        assert!(!format!("{c:?}").contains("other"));
        let scrubbed = c.scrub("a s3cr@t b s3cr%40t c other! d other%21");
        assert_eq!(scrubbed, "a ******** b ******** c ******** d ********");
    }

    #[test]
    fn dbname_parameter_wins_and_swapping_the_database_drops_it() {
        let c = Conn::parse("postgres://u@h/x?dbname=real").unwrap();
        assert_eq!(c.dbname, "real");
        assert_eq!(
            with_database(
                "postgres://u:${PW}@h:5/x?dbname=real&sslmode=disable",
                "copy_1"
            ),
            "postgres://u:${PW}@h:5/copy_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "n"), "postgres://h/n");
    }

    #[test]
    fn errors_do_not_quote_the_url() {
        let err = Conn::parse("mysql://u:hunter22@h/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter22"), "{err}");
    }
}
