//! Live capture from a passive TAP: each direction of every connection leaves the TAP on its
//! own port. Two veth pairs stand in for the TAP's ports: the clients' packets are sent into
//! one pair, the servers' into the other, and `apitap capture -i A,B` must merge them into
//! whole connections and transactions, with each interface's packets counted apart. And the
//! daemon on two interfaces, one of which goes quiet: its health names that interface. Needs
//! root (or CAP_NET_ADMIN and CAP_NET_RAW), iproute2 and curl.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
#[path = "daemon/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ethernet, Conversation, Flags, Side};

/// A veth pair, deleted when dropped.
struct Veth(String);

impl Veth {
    fn new(name: &str) -> Veth {
        let _ = Command::new("ip").args(["link", "del", &format!("{name}0")]).status();
        let ok = Command::new("ip")
            .args(["link", "add", &format!("{name}0"), "type", "veth", "peer", "name", &format!("{name}1")])
            .status()
            .unwrap();
        assert!(ok.success(), "ip link add {name}0 (needs root)");
        for end in ["0", "1"] {
            let dev = format!("{name}{end}");
            // No IPv6 chatter (router solicitations) on the test's ports.
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
            assert!(Command::new("ip").args(["link", "set", &dev, "up"]).status().unwrap().success());
        }
        Veth(name.to_string())
    }

    fn inside(&self) -> String {
        format!("{}0", self.0)
    }

    fn outside(&self) -> String {
        format!("{}1", self.0)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.inside()]).status();
    }
}

const EXCHANGES: usize = 40;

#[test]
fn a_tap_pair_on_two_interfaces_becomes_whole_transactions() {
    let tag = std::process::id() % 100_000;
    let (a, b) = (Veth::new(&format!("tpa{tag}")), Veth::new(&format!("tpb{tag}")));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["capture", "--interface", &format!("{},{}", a.outside(), b.outside()), "--filter", "tcp", "--duration", "8"])
        .arg("--out")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both handles open before anything is sent.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut opened = 0;
    let mut line = String::new();
    let started = Instant::now();
    while opened < 2 && started.elapsed() < Duration::from_secs(10) {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        opened += usize::from(line.contains("capturing on"));
    }
    assert_eq!(opened, 2, "apitap did not open both interfaces: {line}");

    // Clients on one port of the TAP, servers on the other, in time order.
    let mut packets = Vec::new();
    for i in 0..EXCHANGES {
        let request = format!("GET /accounts/acc-{i} HTTP/1.1\r\nHost: api.bank.example\r\n\r\n");
        let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{{\"n\":{i}}}", format!("{{\"n\":{i}}}").len());
        let c = Conversation::http(
            (Ipv4Addr::new(10, 1, 0, 1 + (i % 200) as u8), 40_000 + i as u16),
            (Ipv4Addr::new(10, 2, 0, 9), 8080),
            &[(request.as_bytes(), response.as_bytes())],
        );
        packets.extend(c.packets.into_iter().map(|(_, side, ip)| (side, ethernet(&ip, &[]))));
    }
    let mut to_servers = pcap::Capture::from_device(a.inside().as_str()).unwrap().open().unwrap();
    let mut to_clients = pcap::Capture::from_device(b.inside().as_str()).unwrap().open().unwrap();
    let (mut sent_a, mut sent_b) = (0u64, 0u64);
    for (side, frame) in &packets {
        match side {
            Side::Client => {
                to_servers.sendpacket(frame.as_slice()).unwrap();
                sent_a += 1;
            }
            Side::Server => {
                to_clients.sendpacket(frame.as_slice()).unwrap();
                sent_b += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{rest}");

    let text = std::fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), EXCHANGES, "{rest}");
    let mut uris: Vec<String> = recs.iter().map(|r| r["uri"].as_str().unwrap().to_string()).collect();
    uris.sort();
    let mut want: Vec<String> = (0..EXCHANGES).map(|i| format!("/accounts/acc-{i}")).collect();
    want.sort();
    assert_eq!(uris, want);
    for r in &recs {
        assert_eq!(r["status_code"], 200, "the response from the other interface belongs to it: {r}");
        assert!(r.get("events").is_none(), "a whole exchange has no events: {r}");
        assert_eq!(r["orig_p"].as_u64().unwrap() - 40_000, r["uri"].as_str().unwrap()[14..].parse::<u64>().unwrap(), "{r}");
    }
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let interfaces = summary["interfaces"].as_array().unwrap_or_else(|| panic!("no interfaces in {summary}"));
    let count = |name: &str| interfaces.iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name} in {interfaces:?}"))["packets"].as_u64();
    assert_eq!((count(&a.outside()), count(&b.outside())), (Some(sent_a), Some(sent_b)), "{interfaces:?}");
    assert_eq!(summary["stages"]["tcp"]["gaps"], 0, "{summary}");
    assert_eq!(summary["stages"]["capture"]["interfaces"], 2);
}

fn http_get(url: &str) -> String {
    let out = Command::new("curl").args(["-s", "--max-time", "5", url]).output().expect("curl (scripts/install-deps.sh)");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_daemon_names_the_interface_that_went_quiet() {
    let tag = std::process::id() % 100_000;
    let (a, b) = (Veth::new(&format!("tqa{tag}")), Veth::new(&format!("tqb{tag}")));
    let dir = tempfile::tempdir().unwrap();
    let port = harness::free_port();
    let cfg = daemon_config(dir.path(), &[a.outside(), b.outside()], port, "silent_after_s = 2");
    let daemon = harness::Daemon::start(&cfg);
    // Traffic on the first interface only, for longer than silent_after_s.
    let mut send = pcap::Capture::from_device(a.inside().as_str()).unwrap().open().unwrap();
    let started = Instant::now();
    let mut i = 0u16;
    let mut health = String::new();
    while started.elapsed() < Duration::from_secs(15) {
        let c = Conversation::http(
            (Ipv4Addr::new(10, 1, 0, 7), 41_000 + i),
            (Ipv4Addr::new(10, 2, 0, 9), 8080),
            &[(b"GET /ping HTTP/1.1\r\nHost: h\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n")],
        );
        for (_, side, ip) in &c.packets {
            if *side == Side::Client {
                send.sendpacket(ethernet(ip, &[]).as_slice()).unwrap();
            }
        }
        i = i.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(4) {
            health = http_get(&format!("http://127.0.0.1:{port}/health"));
            if health.contains("interface_silent") {
                break;
            }
        }
    }
    let h: serde_json::Value = serde_json::from_str(&health).unwrap_or_else(|_| panic!("/health: {health:?}"));
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["reasons"], serde_json::json!(["interface_silent"]), "{h}");
    assert_eq!(h["silent_interfaces"], serde_json::json!([b.outside()]), "{h}");
    let metrics = http_get(&format!("http://127.0.0.1:{port}/metrics"));
    assert!(metrics.contains(&format!("apitap_interface_silent{{interface=\"{}\"}} 1", b.outside())), "{metrics}");
    assert!(metrics.contains(&format!("apitap_interface_silent{{interface=\"{}\"}} 0", a.outside())), "{metrics}");
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("interface silent") && log.contains(&b.outside()), "{log}");
}

/// A daemon config for `interfaces` with a plain metrics endpoint on `port` and `extra` in
/// `[metrics]`.
fn daemon_config(dir: &std::path::Path, interfaces: &[String], port: u16, extra: &str) -> std::path::PathBuf {
    let key = harness::hash_key(dir);
    let cfg = dir.join("apitap.toml");
    let list: Vec<String> = interfaces.iter().map(|i| format!("\"{i}\"")).collect();
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nhash_key_file = \"{key}\"\nlog_format = \"json\"\n\n\
             [capture]\ninterface = [{list}]\nfilter = \"tcp\"\n\n\
             [store]\npath = \"{state}/apitap.db\"\n\n[report]\ndir = \"{state}/reports\"\n\n\
             [metrics]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n",
            key = key.display(),
            list = list.join(", "),
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn the_daemon_names_a_service_that_lost_a_direction() {
    let tag = std::process::id() % 100_000;
    let v = Veth::new(&format!("tsd{tag}"));
    let dir = tempfile::tempdir().unwrap();
    let port = harness::free_port();
    let cfg = daemon_config(dir.path(), &[v.outside()], port, "one_sided_window_s = 2");
    let daemon = harness::Daemon::start(&cfg);
    let mut send = pcap::Capture::from_device(v.inside().as_str()).unwrap().open().unwrap();
    let server = (Ipv4Addr::new(10, 2, 0, 9), 8080);
    // Conversations first: both directions mirrored.
    for i in 0..5u16 {
        let c = Conversation::http((Ipv4Addr::new(10, 1, 0, 7), 42_000 + i), server, &[(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n")]);
        for (_, _, ip) in &c.packets {
            send.sendpacket(ethernet(ip, &[]).as_slice()).unwrap();
        }
    }
    // Then the mirror loses the server's direction: the clients' packets only, each
    // connection ended by the client's reset.
    let started = Instant::now();
    let mut health = String::new();
    let mut i = 0u16;
    while started.elapsed() < Duration::from_secs(20) {
        let mut c = Conversation::new((Ipv4Addr::new(10, 1, 0, 8), 43_000 + i), server);
        c.handshake();
        c.send(Side::Client, b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
        let rst = c.segment(Side::Client, c.client_seq, None, Flags { rst: true, ..Flags::default() }, b"");
        for (_, side, ip) in &c.packets {
            if *side == Side::Client {
                send.sendpacket(ethernet(ip, &[]).as_slice()).unwrap();
            }
        }
        send.sendpacket(ethernet(&rst, &[]).as_slice()).unwrap();
        i = i.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(50));
        if i % 10 == 0 {
            health = http_get(&format!("http://127.0.0.1:{port}/health"));
            if health.contains(r#""reasons":["one_sided_service"]"#) {
                break;
            }
        }
    }
    let h: serde_json::Value = serde_json::from_str(&health).unwrap_or_else(|_| panic!("/health: {health:?}"));
    assert_eq!(h["reasons"], serde_json::json!(["one_sided_service"]), "{h}");
    assert_eq!(h["one_sided_services"], serde_json::json!(["10.2.0.9:8080"]), "{h}");
    assert!(started.elapsed() >= Duration::from_secs(2), "not before the window with conversations has passed");
    let metrics = http_get(&format!("http://127.0.0.1:{port}/metrics"));
    assert!(metrics.contains("apitap_one_sided_services 1"), "{metrics}");
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("service seen in one direction only") && log.contains("10.2.0.9:8080"), "{log}");
}
