//! Building blocks of `apitap simulate`: a deterministic random stream, Ethernet/IPv4/TCP
//! frames and a pcap writer, HTTP/1.1 rendering, schema-driven values and fake credentials.

// Until the simulate command uses every building block, the unused ones are not an error.
#![allow(dead_code)]

pub mod creds;
pub mod h2;
pub mod http;
pub mod rng;
pub mod values;
pub mod wire;

// The command itself: scenario model, schedule, generator, truth.
pub mod command;
pub mod gen;
pub mod inject;
pub mod scenario;
pub mod schedule;
pub mod truth;
