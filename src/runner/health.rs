//! The health runner: one task per `[[health]]` check, probing every `interval` with `timeout` and reporting each
//! probe as a [`Probe`] message (a command check runs its command: see [`super::health_command`]). Header values are sent but never logged or reported; errors name no URL (it may
//! carry a token), only what went wrong.

use std::error::Error as _;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::{Probe, RunnerEvent};
use crate::plan::{HealthCheck, HealthTarget};

/// The most of a response body read for `body_contains` and the JSON pointer.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Uses ring for TLS (the build has no aws-lc). Installing twice is harmless: the first provider stays.
pub(crate) fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// deckhand's HTTP client settings: ring for TLS, `timeout` for connecting and for the whole request, no redirects
/// followed, deckhand's user agent. Shared by health probes and webhook notifications.
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_crypto();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("deckhand/", env!("CARGO_PKG_VERSION")))
}

/// The HTTP client for one check: its timeout, its extra CA, `insecure`. No redirects are followed, so a
/// redirect is judged by its own status.
pub fn client(check: &HealthCheck) -> Result<reqwest::Client, String> {
    let mut b = builder(check.timeout);
    if let Some(path) = &check.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {} is not PEM certificates: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("ca_file {} holds no certificate", path.display()));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if check.insecure {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))
}

fn headers(check: &HealthCheck) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in &check.headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header {name}: not a valid header name"))?;
        let mut v = HeaderValue::from_str(&value.value)
            .map_err(|_| format!("header {name}: its value is not a valid header value"))?;
        v.set_sensitive(true);
        map.append(n, v);
    }
    Ok(map)
}

/// One probe: sends the request and judges the answer.
pub async fn probe(client: &reqwest::Client, check: &HealthCheck) -> Probe {
    let method = match reqwest::Method::from_bytes(check.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            return Probe::NoAnswer {
                why: format!("invalid method {}", check.method),
            };
        }
    };
    let headers = match headers(check) {
        Ok(h) => h,
        Err(why) => return Probe::NoAnswer { why },
    };
    let HealthTarget::Url(url) = &check.target else {
        return Probe::NoAnswer {
            why: "a command check has no URL to request".into(),
        };
    };
    let start = Instant::now();
    let sent = client
        .request(method, &url.value)
        .headers(headers)
        .send()
        .await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return no_answer(&e, check.timeout),
    };
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY_BYTES {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return no_answer(&e, check.timeout),
        }
    }
    evaluate(check, status, start.elapsed(), &body)
}

/// Judges an answer: status, body text, JSON pointer, latency, in that order.
pub fn evaluate(check: &HealthCheck, status: u16, latency: Duration, body: &[u8]) -> Probe {
    let down = |why: String| Probe::Down {
        status: Some(status),
        latency,
        why,
    };
    if !check.expect_status.matches(status) {
        return down(format!("status {status}, expected {}", check.expect_status));
    }
    let text = String::from_utf8_lossy(body);
    if let Some(needle) = &check.body_contains
        && !text.contains(needle.as_str())
    {
        return down(format!("body does not contain {needle:?}"));
    }
    if let Some((pointer, want)) = &check.json {
        let json: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return down(format!("body is not JSON: {e}")),
        };
        match json.pointer(pointer) {
            None => return down(format!("JSON has nothing at {pointer}")),
            Some(got) if got != want => {
                return down(format!("JSON {pointer} is {got}, expected {want}"));
            }
            Some(_) => {}
        }
    }
    if let Some(max) = check.max_latency
        && latency > max
    {
        return down(format!(
            "slow: {}ms, max {}ms",
            latency.as_millis(),
            max.as_millis()
        ));
    }
    Probe::Up { status, latency }
}

/// No answer: why, in words, without the URL.
fn no_answer(e: &reqwest::Error, timeout: Duration) -> Probe {
    let why = if e.is_timeout() {
        format!("no answer within {}", humantime::format_duration(timeout))
    } else if e.is_connect() {
        format!("cannot connect: {}", chain(e))
    } else {
        chain(e)
    };
    Probe::NoAnswer { why }
}

/// An error and its causes, one after the other, without the URL.
pub(crate) fn chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push(
            if e.is_request() {
                "request failed"
            } else if e.is_body() || e.is_decode() {
                "reading the answer failed"
            } else {
                "failed"
            }
            .to_string(),
        );
    }
    parts.join(": ")
}

/// Probes check number `index` every `interval` until `stop`; the first probe goes out at once.
pub async fn watch(
    index: usize,
    check: HealthCheck,
    tx: Sender<RunnerEvent>,
    stop: CancellationToken,
) {
    // A command check runs its command each time; a URL check reuses one client.
    let command = check.command().cloned();
    let client = match &command {
        Some(_) => Err(String::new()),
        None => client(&check),
    };
    let mut ticker = tokio::time::interval(check.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let probe = match (&command, &client) {
            (Some(cmd), _) => tokio::select! {
                _ = stop.cancelled() => return,
                p = super::health_command::probe(cmd, check.timeout) => p,
            },
            (None, Ok(c)) => tokio::select! {
                _ = stop.cancelled() => return,
                p = probe(c, &check) => p,
            },
            (None, Err(why)) => Probe::NoAnswer { why: why.clone() },
        };
        let ev = RunnerEvent::HealthProbe {
            check: index,
            probe,
        };
        if tx.send(ev).await.is_err() {
            return;
        }
    }
}
