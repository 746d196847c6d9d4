//! Port forwards in a runbook (`flyctl proxy 15432:5432 -a db`, `ssh -N -L 15432:db:5432 bastion`, `kubectl
//! port-forward svc/db 15432:5432`, `cloud-sql-proxy --port 15432 …`): the local port each listens on, so that the
//! import makes it the plan's managed `[database] tunnel` instead of a step. Reads the words of one command only;
//! imports nothing of deckhand.

/// The local port a port-forwarding command listens on, or `None` when it is not one (or names no fixed port).
pub fn local_port(w: &[String]) -> Option<u16> {
    let prog = w.first()?.rsplit('/').next()?;
    let args = &w[1..];
    match prog {
        "flyctl" | "fly" if args.first().is_some_and(|a| a == "proxy") => {
            // `proxy LOCAL[:REMOTE]`; a lone `:REMOTE` lets flyctl pick the port.
            args.iter().skip(1).find_map(|a| port_before_colon(a, true))
        }
        "ssh" => {
            let spec = args.iter().enumerate().find_map(|(i, a)| {
                if a == "-L" {
                    args.get(i + 1).cloned()
                } else {
                    a.strip_prefix("-L")
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                }
            })?;
            // `[bind:]LOCAL:host:port`
            let parts: Vec<&str> = spec.split(':').collect();
            let local = if parts.len() >= 4 { parts[1] } else { parts[0] };
            local.parse().ok().filter(|p| *p > 0)
        }
        "kubectl" if args.first().is_some_and(|a| a == "port-forward") => args
            .iter()
            .skip(2)
            .find_map(|a| port_before_colon(a, false)),
        "cloud-sql-proxy" | "cloud_sql_proxy" => {
            let flag = args.iter().enumerate().find_map(|(i, a)| {
                if a == "--port" || a == "-p" {
                    args.get(i + 1).cloned()
                } else {
                    a.strip_prefix("--port=").map(String::from)
                }
            });
            let legacy = args
                .iter()
                .find_map(|a| a.rsplit_once("=tcp:").map(|(_, p)| p.to_string()));
            match flag.or(legacy) {
                Some(p) => p.parse().ok().filter(|p| *p > 0),
                None => Some(5432),
            }
        }
        _ => None,
    }
}

/// `15432:5432` → 15432 (`15432` alone too when `bare` allows it); `:5432` → none.
fn port_before_colon(arg: &str, bare: bool) -> Option<u16> {
    let local = match arg.split_once(':') {
        Some((local, remote)) if remote.chars().all(|c| c.is_ascii_digit()) => local,
        Some(_) => return None,
        None if bare => arg,
        None => return None,
    };
    if local.is_empty() || !local.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    local.parse().ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::local_port;

    fn port(text: &str) -> Option<u16> {
        let words: Vec<String> = text.split_whitespace().map(String::from).collect();
        local_port(&words)
    }

    #[test]
    fn the_usual_forwards() {
        assert_eq!(port("flyctl proxy 15432:5432 -a shop-db"), Some(15432));
        assert_eq!(port("fly proxy 5433 -a shop-db"), Some(5433));
        assert_eq!(port("flyctl proxy :5432 -a shop-db"), None);
        assert_eq!(
            port("ssh -N -L 15432:db.internal:5432 deploy@bastion"),
            Some(15432)
        );
        assert_eq!(port("ssh -fNL127.0.0.1:6543:db:5432 bastion"), None);
        assert_eq!(port("ssh -N -L127.0.0.1:6543:db:5432 bastion"), Some(6543));
        assert_eq!(
            port("kubectl port-forward svc/postgres 15432:5432 -n prod"),
            Some(15432)
        );
        assert_eq!(port("kubectl port-forward svc/postgres :5432"), None);
        assert_eq!(port("cloud-sql-proxy --port 6000 proj:eu:db"), Some(6000));
        assert_eq!(port("cloud-sql-proxy proj:eu:db"), Some(5432));
        assert_eq!(
            port("cloud_sql_proxy -instances=proj:eu:db=tcp:5434"),
            Some(5434)
        );
        assert_eq!(port("flyctl deploy"), None);
        assert_eq!(port("ssh bastion uptime"), None);
    }
}
