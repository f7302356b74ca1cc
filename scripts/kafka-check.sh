#!/usr/bin/env bash
# The `kafka` feature of the command line (`forecast watch --kafka-brokers`), outside the
# default build because it compiles librdkafka from source (a few minutes of C on 2
# cores): lints it and runs its test against librdkafka's in-process mock cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/forecast-target}"
cargo clippy --workspace --all-targets --features forecast-cli/kafka -- -D warnings
cargo test --workspace --features forecast-cli/kafka --test kafka
