//! WebSocket load on `forecast serve`: N concurrent streams, each subscribing to a model
//! and sending one bar every second; measures bar-to-forecast latency (from sending a
//! bar to receiving its forecast) over the run, and the server's resident memory before
//! the streams open and once they are open and idle (memory per idle stream).
//!
//! ```text
//! cargo run --release -p forecast-benches --example stream_load -- \
//!     ws://127.0.0.1:8080/v1/models/msft/stream [--streams 1000] [--seconds 30] \
//!     [--h 5] [--server-pid PID]
//! ```
//!
//! Prints one JSON line. Run it with an open-file limit above twice the stream count
//! (`ulimit -n 4096`); `benches/stream_load.sh` does all of it.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Args {
    url: String,
    streams: usize,
    seconds: u64,
    h: usize,
    server_pid: Option<u32>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        url: String::new(),
        streams: 1000,
        seconds: 30,
        h: 5,
        server_pid: None,
    };
    while let Some(x) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match x.as_str() {
            "--streams" => {
                a.streams = val("--streams")?
                    .parse()
                    .map_err(|e| format!("--streams: {e}"))?
            }
            "--seconds" => {
                a.seconds = val("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--h" => a.h = val("--h")?.parse().map_err(|e| format!("--h: {e}"))?,
            "--server-pid" => {
                a.server_pid = Some(
                    val("--server-pid")?
                        .parse()
                        .map_err(|e| format!("--server-pid: {e}"))?,
                )
            }
            url if !url.starts_with("--") && a.url.is_empty() => a.url = url.to_string(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.url.is_empty() {
        return Err(
            "usage: stream_load WS_URL [--streams N] [--seconds S] [--h H] [--server-pid PID]"
                .into(),
        );
    }
    Ok(a)
}

/// Resident memory of a process in KiB (`VmRSS`), Linux only.
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn next_json(ws: &mut Ws) -> Result<Value, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str()).map_err(|e| e.to_string())
            }
            Some(Ok(Message::Close(f))) => return Err(format!("closed: {f:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("connection ended".into()),
        }
    }
}

struct Shared {
    connected: AtomicUsize,
    failed: AtomicUsize,
    errors: AtomicUsize,
    go: tokio::sync::watch::Receiver<Option<Instant>>,
    latencies_us: Mutex<Vec<u32>>,
}

async fn stream(url: String, h: usize, seconds: u64, phase: Duration, sh: Arc<Shared>) {
    let mut ws = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            eprintln!("connect: {e}");
            sh.failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    let sub = json!({"type": "subscribe", "h": h, "level": [80, 95]}).to_string();
    let subscribed = async {
        ws.send(Message::text(sub))
            .await
            .map_err(|e| e.to_string())?;
        let s = next_json(&mut ws).await?;
        next_json(&mut ws).await?;
        Ok::<Value, String>(s)
    }
    .await;
    let last = match subscribed {
        Ok(s) => s["series"][0]["last_ds"].as_str().unwrap_or("").to_string(),
        Err(e) => {
            eprintln!("subscribe: {e}");
            sh.failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    let mut day = chrono::NaiveDate::parse_from_str(&last[..10.min(last.len())], "%Y-%m-%d")
        .unwrap_or(chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap_or_default());
    sh.connected.fetch_add(1, Ordering::SeqCst);
    let mut go = sh.go.clone();
    let start = loop {
        if let Some(t) = *go.borrow() {
            break t;
        }
        if go.changed().await.is_err() {
            return;
        }
    };
    tokio::time::sleep(phase).await;
    let deadline = start + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut y = 100.0f64;
    let mut mine = Vec::with_capacity(seconds as usize + 1);
    loop {
        tick.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        day = day.succ_opt().unwrap_or(day);
        y += 0.25;
        let bar = json!({"ds": day.to_string(), "y": y}).to_string();
        let t0 = Instant::now();
        if ws.send(Message::text(bar)).await.is_err() {
            sh.errors.fetch_add(1, Ordering::Relaxed);
            break;
        }
        match next_json(&mut ws).await {
            Ok(v) if v["type"] == "forecast" => {
                mine.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32)
            }
            Ok(v) => {
                eprintln!("answer: {v}");
                sh.errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                eprintln!("stream: {e}");
                sh.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    let _ = ws.close(None).await;
    if let Ok(mut l) = sh.latencies_us.lock() {
        l.extend(mine);
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let (go_tx, go_rx) = tokio::sync::watch::channel(None);
        let sh = Arc::new(Shared {
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
            go: go_rx,
            latencies_us: Mutex::new(Vec::new()),
        });
        let rss_before = a.server_pid.and_then(rss_kib);
        let t_open = Instant::now();
        let mut tasks = Vec::with_capacity(a.streams);
        for i in 0..a.streams {
            // Phases spread the bars evenly over each second.
            let phase = Duration::from_micros((i as u64 * 1_000_000) / a.streams as u64);
            tasks.push(tokio::spawn(stream(
                a.url.clone(),
                a.h,
                a.seconds,
                phase,
                Arc::clone(&sh),
            )));
            if i % 100 == 99 {
                // Open in batches so the listen backlog never overflows.
                while sh.connected.load(Ordering::SeqCst) + sh.failed.load(Ordering::SeqCst) < i + 1
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        while sh.connected.load(Ordering::SeqCst) + sh.failed.load(Ordering::SeqCst) < a.streams {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let open_s = t_open.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_idle = a.server_pid.and_then(rss_kib);
        let _ = go_tx.send(Some(Instant::now()));
        for t in tasks {
            let _ = t.await;
        }
        let rss_end = a.server_pid.and_then(rss_kib);
        let mut lat = sh
            .latencies_us
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        lat.sort_unstable();
        let connected = sh.connected.load(Ordering::SeqCst);
        let per_stream = match (rss_before, rss_idle) {
            (Some(b), Some(i)) if connected > 0 => Some((i as f64 - b as f64) / connected as f64),
            _ => None,
        };
        println!(
            "{}",
            json!({
                "streams": a.streams,
                "connected": connected,
                "failed": sh.failed.load(Ordering::SeqCst),
                "errors": sh.errors.load(Ordering::SeqCst),
                "seconds": a.seconds,
                "h": a.h,
                "open_s": open_s,
                "bars": lat.len(),
                "p50_ms": percentile(&lat, 50.0),
                "p90_ms": percentile(&lat, 90.0),
                "p99_ms": percentile(&lat, 99.0),
                "p999_ms": percentile(&lat, 99.9),
                "max_ms": lat.last().map(|v| *v as f64 / 1000.0),
                "server_rss_kib_before": rss_before,
                "server_rss_kib_idle": rss_idle,
                "server_rss_kib_end": rss_end,
                "kib_per_idle_stream": per_stream,
            })
        );
    });
}
