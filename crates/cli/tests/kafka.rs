//! `forecast watch --kafka-brokers` (the `kafka` feature) against librdkafka's mock
//! cluster, which speaks the Kafka protocol on 127.0.0.1 from inside this test: the
//! bars produced to a topic give the alerts the same bars give on stdin.
//!
//! Run with `scripts/kafka-check.sh` (it compiles librdkafka from source).

mod common;

use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::time::Duration;

#[test]
fn bars_from_a_kafka_topic_fire_the_alerts_stdin_gives() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("bars", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let bars = common::msft(200);
    let lines = common::json_lines(&bars);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for line in lines.lines() {
        producer
            .send(BaseRecord::<(), str>::to("bars").payload(line))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"cross\"\nwhen = { kind = \"sma-cross\", fast = 3, slow = 8 }\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let from_topic = || {
        common::ok(&[
            "watch",
            "--once",
            "--kafka-brokers",
            &brokers,
            "--kafka-topic",
            "bars",
            "--rules",
            rules,
        ])
    };
    let from_kafka = from_topic();
    let out = common::watch_stdin(std::path::Path::new(rules), &lines, &[], &[]);
    let from_stdin = String::from_utf8(out.stdout).unwrap();
    assert!(from_stdin.lines().count() >= 10, "{from_stdin}");
    assert_eq!(from_kafka, from_stdin);

    // The group's offsets were committed: a second run of the group reads nothing new.
    assert_eq!(from_topic(), "");
}
