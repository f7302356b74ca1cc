//! A `forecast serve` process on a free port of 127.0.0.1 and WebSocket clients of it.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tungstenite::client::IntoClientRequest;

/// The server process and its address; killed when dropped.
pub struct Serving {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .arg("serve")
        .args(args)
        .args(["--port", "0"])
        .envs(env.iter().copied())
        .env("FORECAST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start forecast serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut early = vec![];
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the server ended before listening: {early:?}"))
            .unwrap();
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
        early.push(line);
    };
    // Keep reading the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Serving { child, addr }
}

pub type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// A WebSocket client of `path`, offering `protocols` (comma-separated) when given.
pub fn ws(addr: &str, path: &str, protocols: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    let (mut socket, _) = tungstenite::connect(req)?;
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_mut() {
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    }
    Ok(socket)
}

/// The next text message as JSON (pings are answered by the client library).
pub fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a message") {
            tungstenite::Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            tungstenite::Message::Close(f) => panic!("the socket closed: {f:?}"),
            _ => {}
        }
    }
}

pub fn send(ws: &mut Ws, v: Value) {
    ws.send(tungstenite::Message::Text(v.to_string().into()))
        .unwrap();
}
