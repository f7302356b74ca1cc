//! `forecast watch`: alert rules on bars as they arrive.

use anyhow::{bail, Context, Result};
use clap::Args;
use forecast_alerts::{
    Destination, Mail, OnUndelivered, Outbox, RetryPolicy, Undelivered, Webhook,
};
use forecast_core::artifact;
use forecast_core::data::parse_timestamp;
use forecast_core::strategy::alert::{Alert, Pushed, RuleSet, Watch};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Watch bars and fire alerts.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast watch --data prices.csv --rules experiments/alerts/msft.toml\n  \
    my-feed | forecast watch --stdin --rules experiments/alerts/msft.toml --webhook http://127.0.0.1:9000/alerts\n  \
    forecast watch --data prices.csv --rules r.toml --smtp smtp://mail.example.com:587 --mail-to ops@example.com\n  \
    forecast watch --data prices.csv --rules unusual.toml --model models/msft\n\n\
    stdin takes one JSON object per line: {\"ds\": \"2024-01-02\", \"close\": 370.9} (\"y\" for\n\
    \"close\"; \"unique_id\", \"ticker\" or \"symbol\" names the series of a feed of several).\n\
    Each fired alert is printed as a JSON line {\"rule\", \"ds\", \"value\", \"message\", \"signal\", \"key\"}.\n\
    SMTP credentials come from FORECAST_SMTP_USERNAME / FORECAST_SMTP_PASSWORD.")]
pub struct WatchArgs {
    /// A CSV file of bars that grows (followed like `tail -f`); its rows at start are
    /// history (use --from-start to alert on them too).
    #[arg(long, conflicts_with = "stdin")]
    pub data: Option<PathBuf>,
    /// Read bars as JSON lines from standard input (ends at end of input).
    #[arg(long)]
    pub stdin: bool,
    /// Read bars (JSON messages, as on stdin) from Kafka at these bootstrap servers
    /// (HOST:PORT,...); with --once, stop at the end of every partition.
    #[cfg(feature = "kafka")]
    #[arg(long, requires = "kafka_topic", conflicts_with_all = ["data", "stdin"])]
    pub kafka_brokers: Option<String>,
    /// The Kafka topic of the bars.
    #[cfg(feature = "kafka")]
    #[arg(long)]
    pub kafka_topic: Option<String>,
    /// The Kafka consumer group (offsets are committed as bars are taken in).
    #[cfg(feature = "kafka")]
    #[arg(long, default_value = "forecast-watch")]
    pub kafka_group: String,
    /// Rules file (TOML: [[rule]] with name, when or outside, on, message).
    #[arg(long)]
    pub rules: PathBuf,
    /// A saved model (one series, or a panel: a model per series id) for the rules
    /// with `outside = { level = L }`: the close outside its one-step interval.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Time column of --data [default: ds, else date].
    #[arg(long)]
    pub time_col: Option<String>,
    /// Price column of --data [default: close, else y].
    #[arg(long)]
    pub price_col: Option<String>,
    /// Series id column of --data [default: unique_id, ticker or symbol when present].
    #[arg(long)]
    pub id_column: Option<String>,
    /// Alert on the rows already in --data at start, not only on new ones.
    #[arg(long)]
    pub from_start: bool,
    /// Read what --data holds and stop, instead of following it.
    #[arg(long)]
    pub once: bool,
    /// Seconds between looks at a followed file.
    #[arg(long, default_value_t = 1.0)]
    pub poll_interval: f64,
    /// POST each alert as JSON to this URL (retried until acknowledged).
    #[arg(long)]
    pub webhook: Vec<String>,
    /// E-mail each alert through this server: smtp://HOST[:PORT] (STARTTLS) or
    /// smtps://HOST[:PORT].
    #[arg(long, requires = "mail_to")]
    pub smtp: Option<String>,
    /// Recipient of e-mail alerts (repeatable).
    #[arg(long)]
    pub mail_to: Vec<String>,
    /// Sender of e-mail alerts.
    #[arg(long)]
    pub mail_from: Option<String>,
    /// A CA certificate (PEM) to trust for the SMTP server, besides the system's.
    #[arg(long)]
    pub smtp_ca: Option<PathBuf>,
    /// Give an alert up (reported, never dropped silently) after retrying it this many
    /// seconds.
    #[arg(long, default_value_t = 86400.0)]
    pub give_up_after: f64,
    /// At the end, wait at most this many seconds for queued alerts to be delivered.
    #[arg(long, default_value_t = 30.0)]
    pub drain_timeout: f64,
    /// Append alerts that could not be delivered to this file (JSON lines).
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
}

/// One bar read from the feed.
struct Bar {
    series: String,
    time: chrono::NaiveDateTime,
    close: f64,
}

pub fn run(a: WatchArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.rules)
        .with_context(|| format!("--rules {}", a.rules.display()))?;
    let rules =
        RuleSet::from_toml(&text).with_context(|| format!("--rules {}", a.rules.display()))?;
    if a.smtp.is_none() && !a.mail_to.is_empty() {
        bail!("--mail-to needs --smtp");
    }
    for (flag, v) in [
        ("--poll-interval", a.poll_interval),
        ("--give-up-after", a.give_up_after),
        ("--drain-timeout", a.drain_timeout),
    ] {
        if !(v.is_finite() && v > 0.0) {
            bail!("{flag}: must be a positive number of seconds, got {v}");
        }
    }
    let mut destinations: Vec<Box<dyn Destination>> = Vec::new();
    for url in &a.webhook {
        destinations.push(Box::new(Webhook::new(url)?));
    }
    if let Some(url) = &a.smtp {
        destinations.push(Box::new(Mail::new(
            url,
            &a.mail_to,
            a.mail_from.as_deref(),
            a.smtp_ca.as_deref(),
        )?));
    }
    let dead = Arc::new(DeadLetters::new(a.dead_letter.clone()));
    let report: OnUndelivered = {
        let dead = dead.clone();
        Arc::new(move |u: &Undelivered| dead.report(u))
    };
    let policy = RetryPolicy {
        give_up_after: Duration::from_secs_f64(a.give_up_after),
        ..RetryPolicy::default()
    };
    let outbox = Outbox::new(destinations, policy, report);
    let stop = stop_flag();

    let mut watch = match &a.model {
        None if rules.needs_model() => bail!(
            "--rules {}: a rule with `outside` needs a model (--model DIR)",
            a.rules.display()
        ),
        None => Watch::new(rules, false),
        Some(dir) => {
            let models = if artifact::is_panel(dir) {
                artifact::load_panel(dir)
                    .with_context(|| format!("--model {}", dir.display()))?
                    .series
            } else {
                let m =
                    artifact::load(dir).with_context(|| format!("--model {}", dir.display()))?;
                vec![(String::new(), m)]
            };
            Watch::with_model(rules, false, models)
                .with_context(|| format!("--model {}", dir.display()))?
        }
    };
    #[cfg(feature = "kafka")]
    if a.kafka_brokers.is_some() {
        let result = kafka::consume(&a, &mut watch, &outbox, &stop);
        return finish(result, outbox, &a, &dead);
    }
    let result = match (&a.data, a.stdin) {
        (Some(path), _) => follow(&a, path, &mut watch, &outbox, &stop),
        (None, true) => read_stdin(&mut watch, &outbox, &stop),
        (None, false) => bail!("give the bars: --data PATH or --stdin"),
    };
    finish(result, outbox, &a, &dead)
}

/// Deliver what is queued (at most --drain-timeout), report what was not, and end.
fn finish(result: Result<()>, outbox: Outbox, a: &WatchArgs, dead: &DeadLetters) -> Result<()> {
    for u in outbox.close(Duration::from_secs_f64(a.drain_timeout)) {
        dead.report(&u);
    }
    result?;
    let n = dead.count();
    if n > 0 {
        bail!("{n} alert(s) could not be delivered (reported above)");
    }
    Ok(())
}

/// Set on SIGINT / SIGTERM: the watch stops reading, delivers what is queued, exits.
fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                if let Ok(mut term) = signal(SignalKind::terminate()) {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                } else {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
        });
        s.store(true, Ordering::SeqCst);
    });
    stop
}

/// Alerts that could not be delivered: on stderr, and appended to the dead-letter file.
struct DeadLetters {
    file: Option<PathBuf>,
    count: Mutex<usize>,
}

impl DeadLetters {
    fn new(file: Option<PathBuf>) -> Self {
        DeadLetters {
            file,
            count: Mutex::new(0),
        }
    }

    fn report(&self, u: &Undelivered) {
        let line = serde_json::json!({
            "undelivered": u.alert,
            "destination": u.destination,
            "reason": u.reason,
        })
        .to_string();
        eprintln!("error: alert not delivered: {line}");
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *count += 1;
        if let Some(path) = &self.file {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| {
                    f.write_all(line.as_bytes())?;
                    f.write_all(b"\n")?;
                    f.sync_all()
                });
            if let Err(e) = written {
                eprintln!("error: --dead-letter {}: {e}", path.display());
            }
        }
    }

    fn count(&self) -> usize {
        *self.count.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Print an alert as a JSON line and queue it for the destinations.
fn emit(alerts: Vec<Alert>, outbox: &Outbox) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for alert in alerts {
        writeln!(out, "{}", serde_json::to_string(&alert)?)?;
        out.flush()?;
        outbox.send(&alert);
    }
    Ok(())
}

fn push(watch: &mut Watch, bar: &Bar, outbox: &Outbox, place: &str) -> Result<()> {
    match watch.push(&bar.series, bar.time, bar.close) {
        Ok(Pushed::New(alerts)) => emit(alerts, outbox),
        Ok(Pushed::Repeat) => Ok(()),
        // A bad bar is reported and skipped: one bad line must not stop a live watch.
        Err(e) => {
            eprintln!("warning: {place}: {e}; bar skipped");
            Ok(())
        }
    }
}

/// Bars as JSON lines on stdin, until end of input.
fn read_stdin(watch: &mut Watch, outbox: &Outbox, stop: &AtomicBool) -> Result<()> {
    let (tx, rx) = channel::<std::io::Result<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let end = line.is_err();
            if tx.send(line).is_err() || end {
                return;
            }
        }
    });
    let mut n = 0usize;
    while let Some(line) = next(&rx, stop) {
        n += 1;
        let line = line.context("reading standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("stdin line {n}");
        match json_bar(&line) {
            Ok(bar) => push(watch, &bar, outbox, &place)?,
            Err(e) => eprintln!("warning: {place}: {e}; line skipped"),
        }
    }
    Ok(())
}

fn next<T>(rx: &Receiver<T>, stop: &AtomicBool) -> Option<T> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(v) => return Some(v),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// `{"ds": "...", "close": 1.0, "unique_id": "..."}` (or `"y"` for the price).
fn json_bar(line: &str) -> Result<Bar> {
    let v: Value = serde_json::from_str(line).context("not a JSON object")?;
    let obj = v.as_object().context("not a JSON object")?;
    let ds = obj.get("ds").context("ds: a bar needs its time (\"ds\")")?;
    let time = ds
        .as_str()
        .and_then(parse_timestamp)
        .with_context(|| format!("ds: {ds} is not an ISO date or date-time"))?;
    let (key, price) = ["close", "y"]
        .iter()
        .find_map(|k| obj.get(*k).map(|p| (*k, p)))
        .context("close: a bar needs its price (\"close\" or \"y\")")?;
    let close = price
        .as_f64()
        .with_context(|| format!("{key}: {price} is not a number"))?;
    let series = match ["unique_id", "ticker", "symbol"]
        .iter()
        .find_map(|k| obj.get(*k).map(|s| (*k, s)))
    {
        None => String::new(),
        Some((_, Value::String(s))) => s.clone(),
        Some((k, other)) => bail!("{k}: {other} is not a series name (a string)"),
    };
    Ok(Bar {
        series,
        time,
        close,
    })
}

/// The columns of a followed CSV file.
struct Columns {
    time: usize,
    price: usize,
    id: Option<usize>,
}

impl Columns {
    fn of(a: &WatchArgs, header: &csv::StringRecord, path: &std::path::Path) -> Result<Columns> {
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        let find = |n: &str| names.iter().position(|c| c.eq_ignore_ascii_case(n));
        let pick =
            |flag: &str, given: &Option<String>, defaults: &[&str]| -> Result<Option<usize>> {
                match given {
                    Some(n) => find(n).map(Some).with_context(|| {
                        format!(
                            "{flag} {n}: no such column in {} (columns: {})",
                            path.display(),
                            names.join(", ")
                        )
                    }),
                    None => Ok(defaults.iter().find_map(|d| find(d))),
                }
            };
        let time = pick("--time-col", &a.time_col, &["ds", "date"])?.with_context(|| {
            format!(
                "{}: no time column (ds or date; --time-col names another)",
                path.display()
            )
        })?;
        let price = pick("--price-col", &a.price_col, &["close", "y"])?.with_context(|| {
            format!(
                "{}: no price column (close or y; --price-col names another)",
                path.display()
            )
        })?;
        let id = pick(
            "--id-column",
            &a.id_column,
            &["unique_id", "ticker", "symbol"],
        )?;
        Ok(Columns { time, price, id })
    }

    fn bar(&self, r: &csv::StringRecord) -> Result<Bar> {
        let get = |i: usize| r.get(i).map(str::trim).unwrap_or("");
        let t = get(self.time);
        let time =
            parse_timestamp(t).with_context(|| format!("'{t}' is not an ISO date or date-time"))?;
        let p = get(self.price);
        let close: f64 = p
            .parse()
            .ok()
            .with_context(|| format!("'{p}' is not a number"))?;
        Ok(Bar {
            series: self.id.map(|i| get(i).to_string()).unwrap_or_default(),
            time,
            close,
        })
    }
}

/// Follow a CSV file: its rows at start are history, each complete new line a bar.
fn follow(
    a: &WatchArgs,
    path: &std::path::Path,
    watch: &mut Watch,
    outbox: &Outbox,
    stop: &AtomicBool,
) -> Result<()> {
    let mut file = File::open(path).with_context(|| format!("--data {}", path.display()))?;
    let mut offset = 0u64;
    let mut line_no = 0usize;
    let mut columns: Option<Columns> = None;
    let mut pending = String::new();
    let mut first = true;
    loop {
        let len = file
            .metadata()
            .with_context(|| format!("--data {}", path.display()))?
            .len();
        if len < offset {
            bail!(
                "--data {}: the file shrank from {offset} to {len} bytes; a followed file may only grow",
                path.display()
            );
        }
        if len > offset {
            file.seek(SeekFrom::Start(offset))?;
            let mut chunk = Vec::new();
            (&mut file).take(len - offset).read_to_end(&mut chunk)?;
            offset = len;
            pending.push_str(&String::from_utf8_lossy(&chunk));
        }
        // Complete lines only: a half-written last line waits for its newline.
        let complete = pending.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let lines: String = pending.drain(..complete).collect();
        let mut history: Vec<(String, Vec<chrono::NaiveDateTime>, Vec<f64>)> = Vec::new();
        for line in lines.lines() {
            line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            let record = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes())
                .records()
                .next()
                .transpose()
                .with_context(|| format!("{} line {line_no}", path.display()))?
                .unwrap_or_default();
            let Some(cols) = &columns else {
                columns = Some(Columns::of(a, &record, path)?);
                continue;
            };
            let place = format!("{} line {line_no}", path.display());
            let bar = match cols.bar(&record) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("warning: {place}: {e}; row skipped");
                    continue;
                }
            };
            if first && !a.from_start {
                match history.iter_mut().find(|(s, _, _)| *s == bar.series) {
                    Some((_, t, c)) => {
                        t.push(bar.time);
                        c.push(bar.close);
                    }
                    None => history.push((bar.series, vec![bar.time], vec![bar.close])),
                }
            } else {
                push(watch, &bar, outbox, &place)?;
            }
        }
        for (series, t, c) in history {
            watch
                .prime(&series, &t, &c)
                .with_context(|| format!("--data {}", path.display()))?;
        }
        first = false;
        if a.once || stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut waited = 0.0;
        while waited < a.poll_interval {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let step = (a.poll_interval - waited).min(0.2);
            std::thread::sleep(Duration::from_secs_f64(step));
            waited += step;
        }
    }
}

/// Bars from a Kafka topic (the `kafka` feature).
#[cfg(feature = "kafka")]
mod kafka {
    use super::{json_bar, push, Outbox, WatchArgs};
    use anyhow::{Context, Result};
    use forecast_core::strategy::alert::Watch;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::error::KafkaError;
    use rdkafka::message::Message;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// Consume the topic's messages as bars (JSON objects, as stdin's lines). Offsets
    /// are stored once a bar has been taken in and its alerts queued (at least once);
    /// with `--once`, stop when every assigned partition is at its end.
    pub(super) fn consume(
        a: &WatchArgs,
        watch: &mut Watch,
        outbox: &Outbox,
        stop: &AtomicBool,
    ) -> Result<()> {
        let brokers = a.kafka_brokers.as_deref().unwrap_or_default();
        let topic = a
            .kafka_topic
            .as_deref()
            .context("--kafka-topic: which topic holds the bars")?;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", &a.kafka_group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.offset.store", "false")
            .set(
                "enable.partition.eof",
                if a.once { "true" } else { "false" },
            )
            .create()
            .with_context(|| format!("--kafka-brokers {brokers}"))?;
        consumer
            .subscribe(&[topic])
            .with_context(|| format!("--kafka-topic {topic}"))?;
        let mut at_end = HashSet::new();
        let mut n = 0usize;
        while !stop.load(Ordering::SeqCst) {
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                    let assigned = consumer.assignment().map(|t| t.count()).unwrap_or(0);
                    if a.once && assigned > 0 && at_end.len() >= assigned {
                        break;
                    }
                }
                Some(Err(e)) => eprintln!("warning: kafka topic {topic}: {e}"),
                Some(Ok(m)) => {
                    n += 1;
                    at_end.remove(&m.partition());
                    let place = format!(
                        "kafka topic {topic} partition {} offset {}",
                        m.partition(),
                        m.offset()
                    );
                    match m.payload_view::<str>() {
                        Some(Ok(text)) => match json_bar(text) {
                            Ok(bar) => push(watch, &bar, outbox, &place)?,
                            Err(e) => eprintln!("warning: {place}: {e}; message skipped"),
                        },
                        _ => eprintln!("warning: {place}: not a UTF-8 JSON message; skipped"),
                    }
                    consumer
                        .store_offset_from_message(&m)
                        .with_context(|| format!("{place}: storing the offset"))?;
                }
            }
        }
        if n > 0 {
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                eprintln!("warning: kafka topic {topic}: committing the offsets: {e}");
            }
        }
        Ok(())
    }
}
