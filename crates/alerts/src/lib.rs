//! # forecast-alerts
//!
//! Delivery of fired [`Alert`]s: an HTTP POST to a webhook, or an e-mail over SMTP with
//! STARTTLS. Deliveries are at least once: each destination has its own queue, kept in
//! the order the alerts fired; the alert at its head is retried with exponential
//! backoff until the destination acknowledges it (a 2xx answer, an accepted message),
//! so a receiver that was down gets every alert once it is back. Every message carries
//! the alert's idempotency key (the `Idempotency-Key` header and the `key` field of a
//! webhook's JSON body; the `Message-ID` of an e-mail), so that the duplicate a lost
//! acknowledgement causes can be dropped. An alert that cannot be delivered (a
//! permanent refusal, or retries for longer than [`RetryPolicy::give_up_after`]) is
//! handed to the `undelivered` callback, never dropped silently; [`Outbox::close`]
//! returns the ones still queued when it gives up waiting.

use forecast_core::strategy::alert::Alert;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The environment variable holding the SMTP user name.
pub const SMTP_USERNAME: &str = "FORECAST_SMTP_USERNAME";
/// The environment variable holding the SMTP password.
pub const SMTP_PASSWORD: &str = "FORECAST_SMTP_PASSWORD";

/// Errors setting a destination up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad destination setting, naming it.
    #[error("{setting}: {message}")]
    Setting {
        /// The flag or variable at fault.
        setting: String,
        /// What is wrong.
        message: String,
    },
}

fn setting(setting: &str, message: impl Into<String>) -> Error {
    Error::Setting {
        setting: setting.to_string(),
        message: message.into(),
    }
}

/// Why one delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying: the receiver is down, timed out or answered 5xx / 408 / 429.
    Retry(String),
    /// Not worth retrying: the receiver refused the alert itself (another 4xx, a
    /// rejected recipient).
    Permanent(String),
}

/// A destination of alerts.
pub trait Destination: Send + Sync {
    /// A name for reports (`webhook http://…`, `mail to a@b`), without credentials.
    fn name(&self) -> String;
    /// One attempt at delivering `alert`.
    fn deliver(&self, alert: &Alert) -> Result<(), Failure>;
}

/// An HTTP endpoint that receives each alert as a JSON POST.
pub struct Webhook {
    url: reqwest::Url,
    client: reqwest::blocking::Client,
}

impl Webhook {
    /// A webhook at `url` (http or https), with a 10 s timeout per attempt.
    pub fn new(url: &str) -> Result<Webhook, Error> {
        let url = reqwest::Url::parse(url).map_err(|e| setting("--webhook", e.to_string()))?;
        if !["http", "https"].contains(&url.scheme()) {
            return Err(setting(
                "--webhook",
                format!("'{}' URLs are not webhooks (http or https)", url.scheme()),
            ));
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| setting("--webhook", e.to_string()))?;
        Ok(Webhook { url, client })
    }
}

impl Destination for Webhook {
    fn name(&self) -> String {
        let mut u = self.url.clone();
        let _ = u.set_password(None);
        format!("webhook {u}")
    }

    fn deliver(&self, alert: &Alert) -> Result<(), Failure> {
        let body = serde_json::to_vec(alert).map_err(|e| Failure::Permanent(e.to_string()))?;
        let r = self
            .client
            .post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &alert.key)
            .body(body)
            .send()
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let status = r.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(Failure::Retry(format!("HTTP {status}")))
        } else {
            Err(Failure::Permanent(format!("HTTP {status}")))
        }
    }
}

/// E-mail over SMTP: STARTTLS (`smtp://HOST[:PORT]`, port 587 by default) or TLS from
/// the start (`smtps://HOST[:PORT]`, port 465); never in clear text. Credentials come
/// from `FORECAST_SMTP_USERNAME` / `FORECAST_SMTP_PASSWORD`, never from the URL.
pub struct Mail {
    transport: SmtpTransport,
    server: String,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mail {
    /// A mail destination. `ca_pem`: a CA certificate (PEM file) to trust besides the
    /// system's, for a server with a private CA (tests).
    pub fn new(
        url: &str,
        to: &[String],
        from: Option<&str>,
        ca_pem: Option<&Path>,
    ) -> Result<Mail, Error> {
        let u = reqwest::Url::parse(url).map_err(|e| setting("--smtp", e.to_string()))?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(setting(
                "--smtp",
                format!("credentials inside the URL are refused; set {SMTP_USERNAME} and {SMTP_PASSWORD}"),
            ));
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| setting("--smtp", "the URL has no host"))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let (wrapper, default_port) = match u.scheme() {
            "smtp" => (false, 587),
            "smtps" => (true, 465),
            other => {
                return Err(setting(
                    "--smtp",
                    format!("'{other}': use smtp:// (STARTTLS) or smtps:// (TLS)"),
                ))
            }
        };
        if u.path().len() > 1 || u.query().is_some() {
            return Err(setting("--smtp", "takes smtp[s]://HOST[:PORT] only"));
        }
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = ca_pem {
            let pem = std::fs::read(path)
                .map_err(|e| setting("--smtp-ca", format!("{}: {e}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| setting("--smtp-ca", format!("{}: {e}", path.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| setting("--smtp", e.to_string()))?;
        let mut builder = SmtpTransport::builder_dangerous(host.clone())
            .port(u.port().unwrap_or(default_port))
            .timeout(Some(Duration::from_secs(20)))
            .tls(if wrapper {
                Tls::Wrapper(tls)
            } else {
                Tls::Required(tls)
            });
        let user = std::env::var(SMTP_USERNAME).ok().filter(|s| !s.is_empty());
        let pass = std::env::var(SMTP_PASSWORD).ok().filter(|s| !s.is_empty());
        match (user, pass) {
            (Some(u), Some(p)) => builder = builder.credentials(Credentials::new(u, p)),
            (None, None) => {}
            _ => {
                return Err(setting(
                    SMTP_USERNAME,
                    format!("set both {SMTP_USERNAME} and {SMTP_PASSWORD}, or neither"),
                ))
            }
        }
        if to.is_empty() {
            return Err(setting("--mail-to", "e-mail alerts need a recipient"));
        }
        let to = to
            .iter()
            .map(|a| {
                a.parse::<Mailbox>()
                    .map_err(|e| setting("--mail-to", format!("'{a}': {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let from = from
            .unwrap_or("forecast alerts <forecast@localhost>")
            .parse::<Mailbox>()
            .map_err(|e| setting("--mail-from", e.to_string()))?;
        Ok(Mail {
            transport: builder.build(),
            server: format!(
                "{}://{host}:{}",
                u.scheme(),
                u.port().unwrap_or(default_port)
            ),
            from,
            to,
        })
    }
}

impl Destination for Mail {
    fn name(&self) -> String {
        let to: Vec<String> = self.to.iter().map(|m| m.email.to_string()).collect();
        format!("mail to {} via {}", to.join(", "), self.server)
    }

    fn deliver(&self, alert: &Alert) -> Result<(), Failure> {
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(format!("[forecast] {}", alert.message))
            .message_id(Some(format!("<{}@forecast.alerts>", alert.key)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            m = m.to(to.clone());
        }
        let json = serde_json::to_string_pretty(alert).unwrap_or_default();
        let body = format!("{}\n\n{json}\n", alert.message);
        let message = m
            .body(body)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        match self.transport.send(&message) {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Failure::Permanent(e.to_string())),
            Err(e) => Err(Failure::Retry(e.to_string())),
        }
    }
}

/// How long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first wait after a failed attempt; each further wait doubles.
    pub first_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Retry an alert for at most this long, then report it undelivered.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// An alert that was not delivered, and why.
#[derive(Debug, Clone)]
pub struct Undelivered {
    /// The alert.
    pub alert: Alert,
    /// The destination's name.
    pub destination: String,
    /// The last failure.
    pub reason: String,
}

/// Called with each alert given up on.
pub type OnUndelivered = Arc<dyn Fn(&Undelivered) + Send + Sync>;

#[derive(Default)]
struct Queue {
    items: VecDeque<Alert>,
    closing: Option<Instant>,
    delivered: u64,
    /// Why the last attempt at the head failed.
    last_failure: Option<String>,
}

struct Lane {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// Queues of alerts, one per destination, each drained in order by its own thread.
pub struct Outbox {
    lanes: Vec<(Arc<Lane>, String, JoinHandle<()>)>,
}

impl Outbox {
    /// Start a delivery thread per destination.
    pub fn new(
        destinations: Vec<Box<dyn Destination>>,
        policy: RetryPolicy,
        undelivered: OnUndelivered,
    ) -> Outbox {
        let lanes = destinations
            .into_iter()
            .map(|d| {
                let lane = Arc::new(Lane {
                    queue: Mutex::new(Queue::default()),
                    wake: Condvar::new(),
                });
                let name = d.name();
                let l = lane.clone();
                let cb = undelivered.clone();
                let handle = std::thread::spawn(move || drain(&*d, &l, policy, &*cb));
                (lane, name, handle)
            })
            .collect();
        Outbox { lanes }
    }

    /// Queue `alert` for every destination.
    pub fn send(&self, alert: &Alert) {
        for (lane, _, _) in &self.lanes {
            let mut q = lane.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.items.push_back(alert.clone());
            lane.wake.notify_all();
        }
    }

    /// Alerts queued and not yet acknowledged, over all destinations.
    pub fn pending(&self) -> usize {
        self.lanes
            .iter()
            .map(|(l, _, _)| {
                l.queue
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .items
                    .len()
            })
            .sum()
    }

    /// Alerts acknowledged, over all destinations.
    pub fn delivered(&self) -> u64 {
        self.lanes
            .iter()
            .map(|(l, _, _)| l.queue.lock().unwrap_or_else(|p| p.into_inner()).delivered)
            .sum()
    }

    /// Keep delivering for at most `wait`, then stop: the alerts still queued.
    pub fn close(self, wait: Duration) -> Vec<Undelivered> {
        let deadline = Instant::now() + wait;
        for (lane, _, _) in &self.lanes {
            lane.queue.lock().unwrap_or_else(|p| p.into_inner()).closing = Some(deadline);
            lane.wake.notify_all();
        }
        let mut left = Vec::new();
        for (lane, name, handle) in self.lanes {
            let _ = handle.join();
            let mut q = lane.queue.lock().unwrap_or_else(|p| p.into_inner());
            let last = q.last_failure.take();
            left.extend(q.items.drain(..).enumerate().map(|(i, alert)| Undelivered {
                alert,
                destination: name.clone(),
                reason: match (i, &last) {
                    (0, Some(why)) => format!("still queued at the end, not acknowledged; the last attempt failed: {why}"),
                    _ => "still queued at the end, behind an alert the destination did not acknowledge".into(),
                },
            }));
        }
        left
    }
}

/// One destination's thread: deliver the head of the queue until acknowledged.
fn drain(
    d: &dyn Destination,
    lane: &Lane,
    policy: RetryPolicy,
    undelivered: &(dyn Fn(&Undelivered) + Send + Sync),
) {
    let mut first_failure: Option<Instant> = None;
    let mut backoff = policy.first_backoff;
    loop {
        let alert = {
            let mut q = lane.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(a) = q.items.front() {
                    if q.closing.is_some_and(|t| Instant::now() >= t) {
                        return;
                    }
                    break a.clone();
                }
                if q.closing.is_some() {
                    return;
                }
                q = lane.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let outcome = d.deliver(&alert);
        let mut q = lane.queue.lock().unwrap_or_else(|p| p.into_inner());
        let give_up = |reason: String, q: &mut Queue| {
            q.items.pop_front();
            undelivered(&Undelivered {
                alert: alert.clone(),
                destination: d.name(),
                reason,
            });
        };
        match outcome {
            Ok(()) => {
                q.items.pop_front();
                q.delivered += 1;
                q.last_failure = None;
                first_failure = None;
                backoff = policy.first_backoff;
            }
            Err(Failure::Permanent(reason)) => {
                give_up(reason, &mut q);
                first_failure = None;
                backoff = policy.first_backoff;
            }
            Err(Failure::Retry(reason)) => {
                q.last_failure = Some(reason.clone());
                let since = *first_failure.get_or_insert_with(Instant::now);
                if since.elapsed() >= policy.give_up_after {
                    give_up(
                        format!("gave up after {:?}: {reason}", policy.give_up_after),
                        &mut q,
                    );
                    first_failure = None;
                    backoff = policy.first_backoff;
                    continue;
                }
                // Wait the backoff (or until the close deadline), then retry the head.
                let until = Instant::now() + backoff;
                let until = q.closing.map_or(until, |c| c.min(until));
                while Instant::now() < until {
                    let left = until.saturating_duration_since(Instant::now());
                    let (g, _) = lane
                        .wake
                        .wait_timeout(q, left)
                        .unwrap_or_else(|p| p.into_inner());
                    q = g;
                    if q.closing.is_some_and(|c| c < until) {
                        break;
                    }
                }
                backoff = (backoff * 2).min(policy.max_backoff);
            }
        }
    }
}
