//! Per-consumer behavioural baselines and anomaly detection on packet time.
