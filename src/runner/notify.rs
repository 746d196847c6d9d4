//! Webhook notifications: posts `{"text": …}` (Slack-compatible JSON) to the plan's `[notify]` webhook with its
//! timeout. Successes are silent; a failure (non-2xx answer, timeout, no connection) becomes one
//! [`RunnerEvent::NotifyFailed`] whose text never contains the webhook URL (it usually carries a token) and is made
//! safe for the screen.

use tokio::sync::mpsc::Sender;

use super::RunnerEvent;
use super::health::{builder, chain};
use crate::plan::Notify;

/// The most of an error answer's body quoted in the failure (Slack says e.g. `invalid_token`).
const MAX_QUOTED_BODY: usize = 200;

/// Posts `text` to the webhook; reports only a failure, as `NotifyFailed { what, error }`.
pub async fn send(notify: Notify, what: String, text: String, tx: Sender<RunnerEvent>) {
    if let Err(error) = post(&notify, &text).await {
        let error = scrub(&notify, &error);
        if tx
            .send(RunnerEvent::NotifyFailed { what, error })
            .await
            .is_err()
        {
            tracing::debug!("notify runner: the console is gone");
        }
    }
}

async fn post(notify: &Notify, text: &str) -> Result<(), String> {
    let client = builder(notify.timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e.without_url())))?;
    let body = serde_json::json!({ "text": text }).to_string();
    let resp = client
        .post(&notify.webhook.value)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            let e = e.without_url();
            if e.is_timeout() {
                format!(
                    "no answer within {}",
                    humantime::format_duration(notify.timeout)
                )
            } else if e.is_connect() {
                format!("cannot connect: {}", chain(&e))
            } else {
                chain(&e)
            }
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let answer = resp.text().await.unwrap_or_default();
    let answer: String = answer.trim().chars().take(MAX_QUOTED_BODY).collect();
    if answer.is_empty() {
        Err(format!("the webhook answered {status}"))
    } else {
        Err(format!("the webhook answered {status}: {answer}"))
    }
}

/// The error as the screen may show it: no webhook URL (nor its path, where the token usually is), no control
/// characters, one line.
fn scrub(notify: &Notify, error: &str) -> String {
    let mut text = error.replace(&notify.webhook.value, &notify.webhook.display);
    if let Ok(url) = url::Url::parse(&notify.webhook.value) {
        let path = url.path();
        if path.len() > 1 {
            text = text.replace(path, "/…");
        }
        if let Some(query) = url.query() {
            text = text.replace(query, "…");
        }
    }
    crate::sanitize::sanitize_str(&text.replace(['\n', '\r'], " ")).into_owned()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::Resolved;

    #[test]
    fn scrub_removes_the_url_its_path_and_control_characters() {
        let notify = Notify {
            webhook: Resolved {
                value: "https://hooks.example/services/T0/B0/s3cret?key=k3y".into(),
                display: "${SLACK_WEBHOOK}".into(),
            },
            timeout: Duration::from_secs(5),
        };
        let text = scrub(
            &notify,
            "posting to https://hooks.example/services/T0/B0/s3cret?key=k3y failed: /services/T0/B0/s3cret \x1b[31m",
        );
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!text.contains("k3y"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains("${SLACK_WEBHOOK}"), "{text}");
    }
}
