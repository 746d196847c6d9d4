//! Webhook notifications (Slack-compatible `{"text": …}` JSON) on run start, stage results, alerts, rollback and
//! sign-off. Fire and forget: a failure comes back as one message (shown and journaled) and never blocks the run.
//! The webhook URL carries a token, so no error text ever includes it.

use tokio::sync::mpsc::Sender;

use super::RunnerEvent;
use crate::plan::Notify;

pub async fn send(notify: Notify, what: String, text: String, tx: Sender<RunnerEvent>) {
    if let Err(error) = post(&notify, &text).await {
        let _ = tx.send(RunnerEvent::NotifyFailed { what, error }).await;
    }
}

async fn post(notify: &Notify, text: &str) -> Result<(), String> {
    super::health::install_crypto();
    let client = reqwest::Client::builder()
        .timeout(notify.timeout)
        .connect_timeout(notify.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("deckhand/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            format!(
                "cannot build the HTTP client: {}",
                super::health::chain(&e.without_url())
            )
        })?;
    let body =
        serde_json::to_vec(&serde_json::json!({ "text": text })).map_err(|e| e.to_string())?;
    let answer = client
        .post(&notify.webhook.value)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| super::health::chain(&e.without_url()))?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}"))
    }
}
