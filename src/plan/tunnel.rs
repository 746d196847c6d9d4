//! `[database] tunnel`, `tunnel_port` and `tunnel_timeout`: the port forward the database is reached through. The
//! plan is refused unless the URL goes through it (a loopback host and the tunnel's port): a URL that bypasses the
//! tunnel would reach some other database, or none, while the screen says "tunnel up".

use std::ops::Range;
use std::time::Duration;

use super::build::Builder;
use super::error::PlanError;
use super::raw::RawDatabase;
use super::types::{Resolved, SecretEnv, Tunnel};

/// Default `tunnel_timeout`: how long one start of the tunnel may take to open its port (`flyctl proxy` needs a
/// few seconds to bring up its WireGuard peer).
pub const DEFAULT_TUNNEL_TIMEOUT: Duration = Duration::from_secs(30);

impl Builder<'_> {
    /// The tunnel of `[database]`, if it names one; `url` is the database's, already resolved.
    pub(super) fn tunnel(
        &self,
        d: &RawDatabase,
        url: &Resolved,
        table: Range<usize>,
    ) -> Result<Option<Tunnel>, PlanError> {
        let Some(raw) = &d.tunnel else {
            if let Some(port) = &d.tunnel_port {
                let message = "tunnel_port without tunnel: expected tunnel = \"flyctl proxy 15432:5432 -a \
                               <app>\" (the command that listens on that port)";
                return Err(self.err(port.span(), "database.tunnel_port", message));
            }
            return Ok(None);
        };
        let (command, env) = self.resolve_as(raw, "database.tunnel", true)?;
        if command.value.trim().is_empty() {
            let message = "empty command: expected tunnel = \"flyctl proxy 15432:5432 -a <app>\"";
            return Err(self.err(raw.span(), "database.tunnel", message));
        }
        let Some(port) = &d.tunnel_port else {
            let message = "missing; expected tunnel_port = 15432, the local port the tunnel listens on (the \
                           database URL's port)";
            return Err(self.err(table, "database.tunnel_port", message));
        };
        let port = match u16::try_from(*port.get_ref()) {
            Ok(p) if p > 0 => p,
            _ => {
                let message = format!(
                    "invalid port {}: expected a whole number from 1 to 65535",
                    port.get_ref()
                );
                return Err(self.err(port.span(), "database.tunnel_port", &message));
            }
        };
        let url_span = d.url.as_ref().map_or(table.clone(), |u| u.span());
        let host = through_tunnel(&url.value, port)
            .map_err(|why| self.err(url_span, "database.url", &why))?;
        let ready_timeout = match &d.tunnel_timeout {
            Some(t) => self.timeout(t, "database.tunnel_timeout")?,
            None => DEFAULT_TUNNEL_TIMEOUT,
        };
        Ok(Some(Tunnel {
            command,
            env: SecretEnv(env.into_iter().filter(|(k, _)| !k.is_empty()).collect()),
            host,
            port,
            ready_timeout,
        }))
    }
}

/// The URL's host when the URL connects through a tunnel listening on `port` of this machine; otherwise why not.
fn through_tunnel(url: &str, port: u16) -> Result<String, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(
            "a tunnel forwards a TCP port: it needs a postgres:// URL, not a SQLite file".into(),
        );
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("{e}"))?;
    let host = parsed.host_str().unwrap_or("");
    let url_port = parsed.port().unwrap_or(5432);
    let loopback = host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback && url_port == port {
        return Ok(host.trim_start_matches('[').trim_end_matches(']').into());
    }
    Err(format!(
        "the URL connects to {host}:{url_port}, not through the tunnel: expected host localhost (or 127.0.0.1) \
         and port {port} (tunnel_port), e.g. postgres://user:password@localhost:{port}/db"
    ))
}

#[cfg(test)]
mod tests {
    use super::through_tunnel;

    #[test]
    fn the_url_must_go_through_the_tunnel() {
        let ok = |u: &str| through_tunnel(u, 15432);
        assert_eq!(
            ok("postgres://u:p@localhost:15432/db").unwrap(),
            "localhost"
        );
        assert_eq!(
            ok("postgresql://u@127.0.0.1:15432/db").unwrap(),
            "127.0.0.1"
        );
        assert_eq!(ok("postgres://u@[::1]:15432/db").unwrap(), "::1");
        let far = ok("postgres://u@db.internal:15432/db").unwrap_err();
        assert!(
            far.contains("db.internal:15432, not through the tunnel"),
            "{far}"
        );
        let port = ok("postgres://u@localhost/db").unwrap_err();
        assert!(port.contains("localhost:5432"), "{port}");
        assert!(ok("sqlite:app.db").unwrap_err().contains("postgres://"));
    }
}
