//! The sections that watch a release: `[[health]]` checks — HTTP (statuses, body, JSON pointer, latency, TLS) or a
//! command (exit status, the number it prints, `max`/`min`) — with their alert settings, `[[verify]]` SQL assertions (`expect = ">= 58"`) and `[[logs]]` sources (a
//! command or a followed file).

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::build::Builder;
use super::error::PlanError;
use super::raw::{RawHealth, RawLogs, RawStatus, RawVerify};
use super::types::{
    CmpOp, HealthCheck, HealthCommand, HealthTarget, LogInput, LogSource, Resolved, SecretEnv,
    StatusMatch, VerifyCheck,
};

pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_ALERT_WINDOW: Duration = Duration::from_secs(60);
pub const DEFAULT_QUIET_AFTER: Duration = Duration::from_secs(60);
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl Builder<'_> {
    /// A `[[health]]` or `[[smoke]]` table (`section` names it in key paths: `smoke[0].url`).
    pub(super) fn health(
        &self,
        section: &str,
        i: usize,
        raw: &Spanned<RawHealth>,
    ) -> Result<HealthCheck, PlanError> {
        let h = raw.get_ref();
        let p = format!("{section}[{i}]");
        let key = |k: &str| format!("{p}.{k}");
        let name = self.required(h.name.as_ref(), raw.span(), &key("name"), "name = \"api\"")?;
        let target = self.target(h, raw.span(), &p)?;
        let method = self.method(h.method.as_ref(), &key("method"))?;
        let mut entries: Vec<(&String, &Spanned<String>)> = h.headers.iter().collect();
        entries.sort_by_key(|(_, v)| v.span().start);
        let headers = entries
            .into_iter()
            .map(|(k, v)| Ok((k.clone(), self.resolve(v, &key(&format!("headers.{k}")))?)))
            .collect::<Result<_, PlanError>>()?;
        let expect_status = match &h.expect_status {
            None => StatusMatch::Range(200, 299),
            Some(s) => self.status(s, &key("expect_status"))?,
        };
        let json = self.json_match(h, &p)?;
        let dur = |v: &Option<Spanned<String>>, k: &str| {
            v.as_ref().map(|v| self.timeout(v, &key(k))).transpose()
        };
        Ok(HealthCheck {
            name: name.display,
            target,
            method,
            headers,
            expect_status,
            body_contains: h
                .body_contains
                .as_ref()
                .map(|b| self.resolve(b, &key("body_contains")).map(|r| r.value))
                .transpose()?,
            json,
            max_latency: dur(&h.max_latency, "max_latency")?,
            interval: dur(&h.interval, "interval")?.unwrap_or(DEFAULT_HEALTH_INTERVAL),
            timeout: dur(&h.timeout, "timeout")?.unwrap_or(DEFAULT_HEALTH_TIMEOUT),
            ca_file: h
                .ca_file
                .as_ref()
                .map(|c| {
                    self.resolve(c, &key("ca_file"))
                        .map(|r| self.dir.join(r.value))
                })
                .transpose()?,
            insecure: h.insecure,
            fail_after: self.count(&h.fail_after, &key("fail_after"), 3)?,
            recover_after: self.count(&h.recover_after, &key("recover_after"), 2)?,
            latency_factor: self.ratio(
                &h.latency_factor,
                &key("latency_factor"),
                2.0,
                (1.0, 100.0),
            )?,
            error_rate: self.ratio(&h.error_rate, &key("error_rate"), 0.05, (0.0, 1.0))?,
            window: dur(&h.window, "window")?.unwrap_or(DEFAULT_ALERT_WINDOW),
            baseline_samples: self.count(&h.baseline_samples, &key("baseline_samples"), 5)?,
        })
    }

    /// What the check probes: `url` or `command`, exactly one of the two; `max`/`min` belong to a command.
    fn target(
        &self,
        h: &RawHealth,
        span: Range<usize>,
        p: &str,
    ) -> Result<HealthTarget, PlanError> {
        let key = |k: &str| format!("{p}.{k}");
        match (&h.url, &h.command) {
            (Some(url), None) => {
                if let Some(m) = h.max.as_ref().or(h.min.as_ref()) {
                    let k = if h.max.is_some() { "max" } else { "min" };
                    let message = format!(
                        "{k} bounds the number a command prints; a url check has max_latency instead"
                    );
                    return Err(self.err(m.span(), &key(k), &message));
                }
                self.url(url, &key("url")).map(HealthTarget::Url)
            }
            (None, Some(c)) => self.health_command(h, c, p).map(HealthTarget::Command),
            (Some(_), Some(c)) => Err(self.err(
                c.span(),
                &key("command"),
                "a health check has a url or a command, not both",
            )),
            (None, None) => Err(self.err(
                span,
                &key("url"),
                "missing; expected url = \"https://…/health\" or command = \"…\"",
            )),
        }
    }

    /// An http(s) URL that parses.
    fn url(&self, raw: &Spanned<String>, key: &str) -> Result<Resolved, PlanError> {
        let url = self.required(Some(raw), raw.span(), key, "url = \"https://…/health\"")?;
        let scheme = url.value.starts_with("http://") || url.value.starts_with("https://");
        let parsed = url::Url::parse(&url.value);
        if !scheme || parsed.is_err() {
            // Without http(s):// the scheme is the problem to name; with it, what does not parse.
            let why = match (scheme, parsed) {
                (true, Err(e)) => format!(" ({e})"),
                _ => String::new(),
            };
            let message = format!(
                "invalid URL \"{}\"{why}: expected http://… or https://…",
                url.display
            );
            return Err(self.err(raw.span(), key, &message));
        }
        Ok(url)
    }

    /// `command`, its secrets (passed in its environment) and its `max`/`min` bounds; keys only a URL has are
    /// refused, as they would be silently ignored.
    fn health_command(
        &self,
        h: &RawHealth,
        c: &Spanned<String>,
        p: &str,
    ) -> Result<HealthCommand, PlanError> {
        let key = |k: &str| format!("{p}.{k}");
        self.required(Some(c), c.span(), &key("command"), "command = \"…\"")?;
        let url_only = [
            ("method", h.method.as_ref().map(Spanned::span)),
            ("headers", h.headers.values().next().map(Spanned::span)),
            ("expect_status", h.expect_status.as_ref().map(Spanned::span)),
            ("body_contains", h.body_contains.as_ref().map(Spanned::span)),
            ("json_pointer", h.json_pointer.as_ref().map(Spanned::span)),
            ("json_equals", h.json_equals.as_ref().map(Spanned::span)),
            ("max_latency", h.max_latency.as_ref().map(Spanned::span)),
            ("ca_file", h.ca_file.as_ref().map(Spanned::span)),
        ];
        if let Some((k, Some(span))) = url_only.into_iter().find(|(_, s)| s.is_some()) {
            let message = format!("{k} belongs to a url check; a command check has max and min");
            return Err(self.err(span, &key(k), &message));
        }
        if h.insecure {
            let message = "insecure belongs to a url check; a command check has max and min";
            return Err(self.err(c.span(), &key("insecure"), message));
        }
        let (run, env) = self.resolve_as(c, &key("command"), true)?;
        let env = SecretEnv(env.into_iter().filter(|(k, _)| !k.is_empty()).collect());
        let bound = |v: &Option<Spanned<f64>>, k: &str| match v {
            Some(x) if !x.get_ref().is_finite() => Err(self.err(
                x.span(),
                &key(k),
                &format!("invalid value {}: expected a finite number", x.get_ref()),
            )),
            v => Ok(v.as_ref().map(|x| *x.get_ref())),
        };
        let (max, min) = (bound(&h.max, "max")?, bound(&h.min, "min")?);
        if let (Some(lo), Some(hi), Some(m)) = (min, max, h.min.as_ref())
            && lo > hi
        {
            let message = format!("min {lo} is above max {hi}: no sample could pass");
            return Err(self.err(m.span(), &key("min"), &message));
        }
        Ok(HealthCommand { run, env, max, min })
    }

    /// The HTTP method, upper-cased; GET by default.
    fn method(&self, m: Option<&Spanned<String>>, key: &str) -> Result<String, PlanError> {
        let Some(m) = m else {
            return Ok("GET".to_string());
        };
        let v = self.resolve(m, key)?.value.to_ascii_uppercase();
        if !METHODS.contains(&v.as_str()) {
            let message = format!(
                "unknown method \"{v}\": expected one of {}",
                METHODS.join(", ")
            );
            return Err(self.err(m.span(), key, &message));
        }
        Ok(v)
    }

    /// `json_pointer` and `json_equals`, both or neither: where in the body to look and the value it must have.
    fn json_match(
        &self,
        h: &RawHealth,
        p: &str,
    ) -> Result<Option<(String, serde_json::Value)>, PlanError> {
        let key = |k: &str| format!("{p}.{k}");
        match (&h.json_pointer, &h.json_equals) {
            (Some(ptr), Some(value)) => {
                let pointer = self.resolve(ptr, &key("json_pointer"))?.value;
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    let message =
                        format!("invalid JSON pointer \"{pointer}\": expected \"/field/sub\"");
                    return Err(self.err(ptr.span(), &key("json_pointer"), &message));
                }
                let value = serde_json::to_value(value.get_ref())
                    .map_err(|e| self.err(value.span(), &key("json_equals"), &e.to_string()))?;
                Ok(Some((pointer, value)))
            }
            (None, None) => Ok(None),
            (Some(s), None) => {
                let message = "json_pointer needs json_equals (the value it must have)";
                Err(self.err(s.span(), &key("json_pointer"), message))
            }
            (None, Some(v)) => {
                let message = "json_equals needs json_pointer (where in the body to look)";
                Err(self.err(v.span(), &key("json_equals"), message))
            }
        }
    }

    /// A count of samples from 1 to 1000; `default` when absent.
    fn count(&self, v: &Option<Spanned<i64>>, key: &str, default: u32) -> Result<u32, PlanError> {
        match v {
            None => Ok(default),
            Some(n) if (1..=1000).contains(n.get_ref()) => Ok(*n.get_ref() as u32),
            Some(n) => Err(self.err(
                n.span(),
                key,
                &format!(
                    "invalid value {}: expected a whole number from 1 to 1000",
                    n.get_ref()
                ),
            )),
        }
    }

    /// A ratio in `range` (above the low end, at most the high end); `default` when absent.
    fn ratio(
        &self,
        v: &Option<Spanned<f64>>,
        key: &str,
        default: f64,
        range: (f64, f64),
    ) -> Result<f64, PlanError> {
        match v {
            None => Ok(default),
            Some(x) if *x.get_ref() > range.0 && *x.get_ref() <= range.1 => Ok(*x.get_ref()),
            Some(x) => Err(self.err(
                x.span(),
                key,
                &format!(
                    "invalid value {}: expected more than {} and at most {}",
                    x.get_ref(),
                    range.0,
                    range.1
                ),
            )),
        }
    }

    fn status(&self, raw: &Spanned<RawStatus>, key: &str) -> Result<StatusMatch, PlanError> {
        let bad = |what: &str| {
            let message = format!(
                "invalid status {what}: expected codes from 100 to 599, e.g. [200, 204] or \"200-299\""
            );
            self.err(raw.span(), key, &message)
        };
        let code = |n: i64| u16::try_from(n).ok().filter(|c| (100..=599).contains(c));
        match raw.get_ref() {
            RawStatus::List(list) if list.is_empty() => Err(bad("list []")),
            RawStatus::List(list) => list
                .iter()
                .map(|n| code(*n).ok_or_else(|| bad(&n.to_string())))
                .collect::<Result<_, _>>()
                .map(StatusMatch::List),
            RawStatus::Range(text) => {
                let parsed = text.split_once('-').and_then(|(a, b)| {
                    let lo = code(a.trim().parse().ok()?)?;
                    let hi = code(b.trim().parse().ok()?)?;
                    (lo <= hi).then_some((lo, hi))
                });
                match parsed {
                    Some((lo, hi)) => Ok(StatusMatch::Range(lo, hi)),
                    None => Err(bad(&format!("\"{text}\""))),
                }
            }
        }
    }

    pub(super) fn verify(
        &self,
        i: usize,
        raw: &Spanned<RawVerify>,
    ) -> Result<VerifyCheck, PlanError> {
        let v = raw.get_ref();
        let p = format!("verify[{i}]");
        let name = self.required(
            v.name.as_ref(),
            raw.span(),
            &format!("{p}.name"),
            "name = \"tables\"",
        )?;
        let sql = self.required(
            v.sql.as_ref(),
            raw.span(),
            &format!("{p}.sql"),
            "sql = \"select count(*) from …\"",
        )?;
        let expect_key = format!("{p}.expect");
        let expect = self.required(
            v.expect.as_ref(),
            raw.span(),
            &expect_key,
            "expect = \">= 58\"",
        )?;
        let Some((op, value)) = parse_expect(&expect.value) else {
            let span = v.expect.as_ref().map_or(raw.span(), Spanned::span);
            let message = format!(
                "invalid expectation \"{}\": expected an operator (=, !=, <, <=, >, >=) and a value, e.g. \">= 58\"",
                expect.display
            );
            return Err(self.err(span, &expect_key, &message));
        };
        Ok(VerifyCheck {
            name: name.display,
            sql: sql.value,
            op,
            value,
        })
    }

    pub(super) fn logs(&self, i: usize, raw: &Spanned<RawLogs>) -> Result<LogSource, PlanError> {
        let l = raw.get_ref();
        let p = format!("logs[{i}]");
        let name = self.required(
            l.name.as_ref(),
            raw.span(),
            &format!("{p}.name"),
            "name = \"api\"",
        )?;
        let input = self.log_input(l, raw.span(), &p)?;
        let error = match &l.error {
            None => None,
            Some(e) => {
                let pattern = self.resolve(e, &format!("{p}.error"))?.value;
                let refused = match regex::Regex::new(&pattern) {
                    Err(err) => {
                        let text = err.to_string();
                        let first = text.lines().last().unwrap_or_default().trim();
                        Some(format!("invalid regex \"{pattern}\": {first}"))
                    }
                    Ok(re) if re.is_match("") => Some(format!(
                        "regex \"{pattern}\" matches an empty line, so every line would be an error; expected \
                         what error lines have and others lack"
                    )),
                    Ok(_) => None,
                };
                if let Some(message) = refused {
                    return Err(self.err(e.span(), &format!("{p}.error"), &message));
                }
                Some(pattern)
            }
        };
        let quiet_after = match &l.quiet_after {
            Some(q) => self.timeout(q, &format!("{p}.quiet_after"))?,
            None => DEFAULT_QUIET_AFTER,
        };
        let error_rate = self.ratio(&l.error_rate, &format!("{p}.error_rate"), 0.05, (0.0, 1.0))?;
        let window = match &l.window {
            Some(w) => self.timeout(w, &format!("{p}.window"))?,
            None => DEFAULT_ALERT_WINDOW,
        };
        let command_env = match &l.command {
            Some(c) => self.resolve_as(c, &format!("{p}.command"), true)?.1,
            None => Vec::new(),
        };
        let command_env = SecretEnv(
            command_env
                .into_iter()
                .filter(|(k, _)| !k.is_empty())
                .collect(),
        );
        Ok(LogSource {
            command_env,
            name: name.display,
            input,
            error,
            quiet_after,
            restart: l.restart.unwrap_or(true),
            error_rate,
            window,
        })
    }

    /// Where a log source reads: a command's output or a file, one of the two.
    fn log_input(&self, l: &RawLogs, span: Range<usize>, p: &str) -> Result<LogInput, PlanError> {
        Ok(match (&l.command, &l.file) {
            (Some(c), None) => {
                let key = format!("{p}.command");
                self.required(
                    Some(c),
                    span.clone(),
                    &key,
                    "command = \"flyctl logs -a app\"",
                )?;
                // Secrets reach the command through its environment (see `command_env`).
                LogInput::Command(self.resolve_as(c, &key, true)?.0)
            }
            (None, Some(f)) => LogInput::File(
                self.dir.join(
                    self.required(
                        Some(f),
                        span.clone(),
                        &format!("{p}.file"),
                        "file = \"/var/log/app.log\"",
                    )?
                    .value,
                ),
            ),
            (Some(_), Some(f)) => {
                return Err(self.err(
                    f.span(),
                    &format!("{p}.file"),
                    "a log source has a command or a file, not both",
                ));
            }
            (None, None) => {
                return Err(self.err(
                    span.clone(),
                    &format!("{p}.command"),
                    "missing; expected command = \"…\" or file = \"…\"",
                ));
            }
        })
    }
}

/// `">= 58"` → (Ge, "58"); `"= 'ok'"` → (Eq, "ok") (quotes around a text value are dropped).
fn parse_expect(text: &str) -> Option<(CmpOp, String)> {
    let t = text.trim();
    let (op, rest) = [
        ("<=", CmpOp::Le),
        (">=", CmpOp::Ge),
        ("!=", CmpOp::Ne),
        ("==", CmpOp::Eq),
        ("=", CmpOp::Eq),
        ("<", CmpOp::Lt),
        (">", CmpOp::Gt),
    ]
    .into_iter()
    .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (op, rest.trim())))?;
    let value = rest
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or(rest);
    (!rest.is_empty()).then(|| (op, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse() {
        assert_eq!(parse_expect(">= 58"), Some((CmpOp::Ge, "58".into())));
        assert_eq!(parse_expect("= 'ok'"), Some((CmpOp::Eq, "ok".into())));
        assert_eq!(parse_expect("!=0"), Some((CmpOp::Ne, "0".into())));
        assert_eq!(parse_expect("<"), None);
        assert_eq!(parse_expect("58"), None);
    }
}
