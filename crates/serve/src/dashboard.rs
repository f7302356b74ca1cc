//! The dashboard at `/`: one page (HTML, script and style in `assets/`, the vendored
//! chart library inlined from [`forecast_report::ECHARTS_JS`]) that draws a served
//! series, its indicators and forecast, and follows its live feed
//! (`/v1/models/{name}/live`). The page holds no data and no secret, so it answers
//! without the bearer token; the data routes it calls need it (the page asks for it and
//! keeps it in the tab's `sessionStorage`).
//!
//! The page is served with a Content-Security-Policy that runs only its own inline
//! scripts (by hash), allows inline styles (the chart library styles its elements) and
//! connects only to the same origin (its HTTP routes and WebSocket).

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const HTML: &str = include_str!("../assets/dashboard.html");
const SCRIPT: &str = include_str!("../assets/dashboard.js");
const STYLE: &str = include_str!("../assets/dashboard.css");

/// The WebSocket subprotocol the live route answers with.
pub const LIVE_PROTOCOL: &str = "forecast.live";
/// Prefix of the subprotocol that carries the bearer token from a browser (which cannot
/// set headers on a WebSocket): `forecast.bearer.<token in unpadded base64url>`.
pub const BEARER_PROTOCOL_PREFIX: &str = "forecast.bearer.";

/// The page and the hashes of its two inline scripts.
struct Page {
    html: String,
    script_hashes: [String; 2],
}

/// An inline script as the page holds it: no `</script` inside can end it early.
fn inline(script: &str) -> String {
    script.replace("</script", "<\\/script")
}

fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| {
        let chart = inline(forecast_report::ECHARTS_JS);
        let app = inline(SCRIPT);
        let hash = |s: &str| format!("'sha256-{}'", base64(&Sha256::digest(s.as_bytes()), false));
        let script_hashes = [hash(&chart), hash(&app)];
        // Replace the placeholders in one pass so that no inserted text is searched.
        let mut html = String::with_capacity(HTML.len() + chart.len() + app.len() + STYLE.len());
        let mut rest = HTML;
        while let Some(at) = rest.find("{{") {
            html.push_str(&rest[..at]);
            let after = &rest[at..];
            let (text, len) = if after.starts_with("{{STYLE}}") {
                (STYLE, "{{STYLE}}".len())
            } else if after.starts_with("{{ECHARTS}}") {
                (chart.as_str(), "{{ECHARTS}}".len())
            } else if after.starts_with("{{SCRIPT}}") {
                (app.as_str(), "{{SCRIPT}}".len())
            } else if after.starts_with("{{ECHARTS_VERSION}}") {
                (
                    forecast_report::ECHARTS_VERSION.trim(),
                    "{{ECHARTS_VERSION}}".len(),
                )
            } else {
                ("{{", 2)
            };
            html.push_str(text);
            rest = &after[len..];
        }
        html.push_str(rest);
        Page {
            html,
            script_hashes,
        }
    })
}

/// Base64 of `bytes` (standard alphabet with padding, or unpadded base64url).
pub(crate) fn base64(bytes: &[u8], url: bool) -> String {
    let alphabet: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if !url {
                out.push('=');
            }
        }
    }
    out
}

/// The request's host, when it is a plain `host[:port]` (anything else is left out of
/// the policy, which then allows `'self'` alone).
fn host(headers: &HeaderMap) -> Option<&str> {
    let h = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plain.then_some(h)
}

/// The page's Content-Security-Policy for a request to `host`.
pub(crate) fn policy(host: Option<&str>) -> String {
    let p = page();
    let connect = match host {
        Some(h) => format!("'self' ws://{h} wss://{h}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'none'; script-src {} {}; style-src 'unsafe-inline'; img-src data:; connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        p.script_hashes[0], p.script_hashes[1]
    )
}

/// `GET /`: the dashboard.
pub(crate) async fn serve(headers: HeaderMap) -> Response {
    let csp = policy(host(&headers));
    let mut r = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page().html.as_str(),
    )
        .into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (raw, std, url) in [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes(), false), std);
            assert_eq!(base64(raw.as_bytes(), true), url);
        }
        assert_eq!(base64(&[0xfb, 0xff], false), "+/8=");
        assert_eq!(base64(&[0xfb, 0xff], true), "-_8");
    }

    #[test]
    fn the_page_inlines_everything_and_the_policy_names_its_scripts() {
        let p = page();
        assert!(!p.html.contains("{{"), "a placeholder was left");
        assert!(p.html.contains(&inline(forecast_report::ECHARTS_JS)));
        assert!(!p.html.contains("<script src"));
        let csp = policy(Some("127.0.0.1:8080"));
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080"));
        assert!(csp.contains(&p.script_hashes[0]) && csp.contains(&p.script_hashes[1]));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("evil; script-src *"));
        assert_eq!(host(&h), None);
    }
}
