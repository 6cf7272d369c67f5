"""Reads back what apitap published, with a client that is not apitap's: confluent-kafka.

Every message of the given topics, from the beginning, is written as one JSON line to --out:
topic, partition, offset, key (text), value (parsed JSON, or text when it is not JSON),
timestamp (milliseconds since the epoch, null when the message has none), the raw bytes of
key and value in hex (key_hex, value_hex: what a search for leaked secrets must look at,
before any JSON decoding), the headers as [name, value_hex] pairs, and,
for the topic named by --ocsf-topic, the errors py-ocsf-models' Detection Finding model finds
in it (an empty list when it validates). Reading stops when no message arrived for
--idle-seconds after at least --expect-at-least messages, or at --timeout-seconds.
"""

import argparse
import json
import sys
import time
import uuid

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError


def ocsf_errors(value):
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding

    try:
        DetectionFinding.model_validate(value)
        return []
    except Exception as e:  # pydantic.ValidationError and anything a model raises
        return [str(e)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ocsf-topic", default=None)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--timeout-seconds", type=float, default=120.0)
    ap.add_argument("--expect-at-least", type=int, default=1)
    ap.add_argument("--ca", default=None, help="CA file: connect with TLS")
    ap.add_argument("--cert", default=None, help="client certificate for mutual TLS")
    ap.add_argument("--key", default=None, help="its key")
    ap.add_argument("--sasl-mechanism", default=None)
    ap.add_argument("--username", default=None)
    ap.add_argument("--password-file", default=None)
    a = ap.parse_args()

    conf = {
        "bootstrap.servers": a.brokers,
        "group.id": "apitap-test-reader-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "log_level": 3,
    }
    if a.sasl_mechanism:
        conf["security.protocol"] = "SASL_SSL" if a.ca else "SASL_PLAINTEXT"
        conf["sasl.mechanism"] = a.sasl_mechanism
        conf["sasl.username"] = a.username
        with open(a.password_file) as f:
            conf["sasl.password"] = f.read().strip()
    elif a.ca:
        conf["security.protocol"] = "SSL"
    if a.ca:
        conf["ssl.ca.location"] = a.ca
    if a.cert:
        conf["ssl.certificate.location"] = a.cert
        conf["ssl.key.location"] = a.key

    c = Consumer(conf)
    c.subscribe(a.topics.split(","))
    start = time.time()
    last = time.time()
    n = 0
    with open(a.out, "w") as out:
        while True:
            now = time.time()
            if now - start > a.timeout_seconds:
                break
            if n >= a.expect_at_least and now - last > a.idle_seconds:
                break
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    print("reader: " + str(m.error()), file=sys.stderr)
                continue
            last = time.time()
            n += 1
            raw = m.value() or b""
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw.decode("utf-8", "replace")
            ts_type, ts = m.timestamp()
            rec = {
                "topic": m.topic(),
                "partition": m.partition(),
                "offset": m.offset(),
                "key": (m.key() or b"").decode("utf-8", "replace"),
                "value": value,
                "timestamp": None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts,
                "key_hex": (m.key() or b"").hex(),
                "value_hex": raw.hex(),
                "headers": [[k, (v or b"").hex()] for k, v in (m.headers() or [])],
            }
            if a.ocsf_topic and m.topic() == a.ocsf_topic:
                rec["ocsf_errors"] = ocsf_errors(value) if isinstance(value, dict) else ["not a JSON object"]
            out.write(json.dumps(rec) + "\n")
    c.close()
    print(f"reader: {n} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
