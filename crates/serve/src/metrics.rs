//! The server's Prometheus metrics (a registry of its own, never the process-wide one).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Request counts, errors, latencies and open streams.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route template, method and status.
    pub requests: IntCounterVec,
    /// Answers with a 4xx or 5xx status, by route template and error code class.
    pub errors: IntCounterVec,
    /// Latency by route template.
    pub latency: HistogramVec,
    /// Models served now.
    pub models: IntGauge,
    /// WebSocket streams open now.
    pub streams: IntGauge,
}

impl Metrics {
    /// Fresh metrics, all zero.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        // The names and labels are constants: construction and registration cannot fail.
        let requests = IntCounterVec::new(
            Opts::new("forecast_http_requests_total", "HTTP requests answered"),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "forecast_http_errors_total",
                "HTTP requests answered with an error status",
            ),
            &["route", "class"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "forecast_http_request_duration_seconds",
                "Time from request to answer",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let models = IntGauge::new("forecast_models_served", "Models served").expect("valid");
        let streams =
            IntGauge::new("forecast_streams_open", "WebSocket streams open").expect("valid");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(latency.clone()),
            Box::new(models.clone()),
            Box::new(streams.clone()),
        ] {
            registry.register(c).expect("distinct metric names");
        }
        Metrics {
            registry,
            requests,
            errors,
            latency,
            models,
            streams,
        }
    }

    /// Record one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let status_text = status.to_string();
        self.requests
            .with_label_values(&[route, method, &status_text])
            .inc();
        if status >= 400 {
            let class = if status >= 500 { "5xx" } else { "4xx" };
            self.errors.with_label_values(&[route, class]).inc();
        }
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into memory cannot fail for the metric types used here.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
