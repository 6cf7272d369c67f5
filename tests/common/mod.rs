//! Shared helpers for the end-to-end tests: crafted TCP conversations built with etherparse,
//! capture-file writers, and running the real `apitap` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use etherparse::PacketBuilder;

pub mod accuracy;
pub mod browser;
pub mod tuning;

/// One side of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// A crafted IPv4 TCP conversation. Produces raw IP packets with correct sequence numbers,
/// ACKs and checksums; [`ethernet`] and friends wrap them.
pub struct Conversation {
    pub client: (Ipv4Addr, u16),
    pub server: (Ipv4Addr, u16),
    pub client_seq: u32,
    pub server_seq: u32,
    pub mss: usize,
    pub ts: u64,
    /// (time in nanoseconds, sender, raw IP packet)
    pub packets: Vec<(u64, Side, Vec<u8>)>,
}

#[derive(Clone, Copy, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

impl Conversation {
    pub fn new(client: (Ipv4Addr, u16), server: (Ipv4Addr, u16)) -> Self {
        Conversation {
            client,
            server,
            client_seq: 1_000,
            server_seq: 5_000_000,
            mss: 1460,
            ts: 1_700_000_000_000_000_000,
            packets: Vec::new(),
        }
    }

    /// Builds one segment from `side` with explicit sequence numbers (does not advance them).
    pub fn segment(&self, side: Side, seq: u32, ack: Option<u32>, flags: Flags, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = match side {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        };
        let mut b = PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, seq, 65000);
        if flags.syn {
            b = b.syn();
        }
        if flags.fin {
            b = b.fin();
        }
        if flags.rst {
            b = b.rst();
        }
        if let Some(a) = ack {
            b = b.ack(a);
        }
        let mut out = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut out, payload).unwrap();
        out
    }

    fn push(&mut self, side: Side, pkt: Vec<u8>) {
        self.ts += 1_000_000; // 1 ms apart
        self.packets.push((self.ts, side, pkt));
    }

    pub fn handshake(&mut self) {
        let syn = self.segment(Side::Client, self.client_seq, None, Flags { syn: true, ..Flags::default() }, b"");
        self.push(Side::Client, syn);
        self.client_seq = self.client_seq.wrapping_add(1);
        let synack = self.segment(
            Side::Server,
            self.server_seq,
            Some(self.client_seq),
            Flags { syn: true, ack: true, ..Flags::default() },
            b"",
        );
        self.push(Side::Server, synack);
        self.server_seq = self.server_seq.wrapping_add(1);
        let ack = self.segment(Side::Client, self.client_seq, Some(self.server_seq), Flags { ack: true, ..Flags::default() }, b"");
        self.push(Side::Client, ack);
    }

    /// Sends `data` from `side` in MSS-sized segments, each acknowledged by the other side.
    pub fn send(&mut self, side: Side, data: &[u8]) {
        for chunk in data.chunks(self.mss) {
            let (seq, ack) = match side {
                Side::Client => (self.client_seq, self.server_seq),
                Side::Server => (self.server_seq, self.client_seq),
            };
            let pkt = self.segment(side, seq, Some(ack), Flags { ack: true, ..Flags::default() }, chunk);
            self.push(side, pkt);
            let next = seq.wrapping_add(chunk.len() as u32);
            match side {
                Side::Client => self.client_seq = next,
                Side::Server => self.server_seq = next,
            }
            let other = if side == Side::Client { Side::Server } else { Side::Client };
            let (oseq, _) = match other {
                Side::Client => (self.client_seq, 0),
                Side::Server => (self.server_seq, 0),
            };
            let ackp = self.segment(other, oseq, Some(next), Flags { ack: true, ..Flags::default() }, b"");
            self.push(other, ackp);
        }
    }

    /// FIN from the client, FIN from the server, final ACK.
    pub fn close(&mut self) {
        let f = Flags { fin: true, ack: true, ..Flags::default() };
        let p = self.segment(Side::Client, self.client_seq, Some(self.server_seq), f, b"");
        self.push(Side::Client, p);
        self.client_seq = self.client_seq.wrapping_add(1);
        let p = self.segment(Side::Server, self.server_seq, Some(self.client_seq), f, b"");
        self.push(Side::Server, p);
        self.server_seq = self.server_seq.wrapping_add(1);
        let p = self.segment(Side::Client, self.client_seq, Some(self.server_seq), Flags { ack: true, ..Flags::default() }, b"");
        self.push(Side::Client, p);
    }

    /// Handshake, one request/response exchange per pair, close.
    pub fn http(client: (Ipv4Addr, u16), server: (Ipv4Addr, u16), exchanges: &[(&[u8], &[u8])]) -> Self {
        let mut c = Conversation::new(client, server);
        c.handshake();
        for (req, resp) in exchanges {
            c.send(Side::Client, req);
            c.send(Side::Server, resp);
        }
        c.close();
        c
    }
}

/// Wraps a raw IPv4/IPv6 packet in Ethernet with the given VLAN tags (outermost first; the
/// outer tag of a stack uses 802.1ad's 0x88a8).
pub fn ethernet(ip: &[u8], vlans: &[u16]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    for (i, vid) in vlans.iter().enumerate() {
        let tpid: u16 = if i == 0 && vlans.len() > 1 { 0x88a8 } else { 0x8100 };
        f.extend(tpid.to_be_bytes());
        f.extend(vid.to_be_bytes());
    }
    let ethertype: u16 = if ip.first().map(|b| b >> 4) == Some(6) { 0x86dd } else { 0x0800 };
    f.extend(ethertype.to_be_bytes());
    f.extend(ip);
    f
}

/// Writes a classic pcap file (microsecond or nanosecond timestamps).
pub fn write_pcap(path: &Path, linktype: u32, nanos: bool, frames: &[(u64, Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend(if nanos { 0xa1b23c4du32 } else { 0xa1b2c3d4u32 }.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend(262144u32.to_le_bytes());
    out.extend(linktype.to_le_bytes());
    for (ts, frame) in frames {
        let secs = (ts / 1_000_000_000) as u32;
        let frac = if nanos { (ts % 1_000_000_000) as u32 } else { ((ts % 1_000_000_000) / 1000) as u32 };
        out.extend(secs.to_le_bytes());
        out.extend(frac.to_le_bytes());
        out.extend((frame.len() as u32).to_le_bytes());
        out.extend((frame.len() as u32).to_le_bytes());
        out.extend(frame);
    }
    std::fs::write(path, out).unwrap();
}

fn pcapng_block(out: &mut Vec<u8>, t: u32, body: &[u8]) {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    out.extend(t.to_le_bytes());
    out.extend(len.to_le_bytes());
    out.extend(body);
    out.extend(vec![0u8; padded - body.len()]);
    out.extend(len.to_le_bytes());
}

/// Writes a pcapng file with one interface per entry of `linktypes` (nanosecond resolution);
/// frames name their interface.
pub fn write_pcapng(path: &Path, linktypes: &[u16], frames: &[(u64, u32, Vec<u8>)]) {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend(0x1a2b3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    pcapng_block(&mut out, 0x0a0d0d0a, &shb);
    for lt in linktypes {
        let mut idb = Vec::new();
        idb.extend(lt.to_le_bytes());
        idb.extend(0u16.to_le_bytes());
        idb.extend(262144u32.to_le_bytes());
        idb.extend(9u16.to_le_bytes()); // if_tsresol = 10^-9
        idb.extend(1u16.to_le_bytes());
        idb.extend([9u8, 0, 0, 0]);
        idb.extend([0u8; 4]);
        pcapng_block(&mut out, 1, &idb);
    }
    for (ts, iface, frame) in frames {
        let mut epb = Vec::new();
        epb.extend(iface.to_le_bytes());
        epb.extend(((ts >> 32) as u32).to_le_bytes());
        epb.extend((*ts as u32).to_le_bytes());
        epb.extend((frame.len() as u32).to_le_bytes());
        epb.extend((frame.len() as u32).to_le_bytes());
        epb.extend(frame);
        pcapng_block(&mut out, 6, &epb);
    }
    std::fs::write(path, out).unwrap();
}

/// Gzip-compresses a file next to it (`NAME.gz`).
pub fn gzip(path: &Path) -> PathBuf {
    let data = std::fs::read(path).unwrap();
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(&data).unwrap();
    enc.finish().unwrap();
    gz
}

/// Runs `apitap ARGS`.
pub fn apitap(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).output().unwrap()
}

/// Runs `apitap read CAPTURES --out DIR` and returns the records and the summary.
pub fn read(captures: &[&Path], out: &Path) -> (Vec<serde_json::Value>, serde_json::Value, Output) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["read".as_ref()];
    args.extend(captures.iter().map(|p| p.as_os_str()));
    args.extend(["--out".as_ref(), out.as_os_str(), "--no-progress".as_ref()]);
    let output = apitap(&args);
    let text = std::fs::read_to_string(out.join("transactions.jsonl")).unwrap_or_default();
    let recs = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (recs, summary, output)
}

/// A `[[spec]]` entry binding `fixtures/specs/FILE` to `host`, with `extra` TOML lines.
pub fn spec_entry(file: &str, host: &str, extra: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    format!("[[spec]]\nfile = \"{root}/fixtures/specs/{file}\"\nhosts = [\"{host}\"]\n{extra}\n")
}

/// The operator's configuration of the simulated UK scenarios (week.yaml, behaviour.yaml,
/// population.yaml) as TOML: their specs bound to their hosts, the superseded v3.1.11 spec, and
/// the bank's time zone.
pub fn uk_scenario_config() -> String {
    let spec = spec_entry;
    [
        spec("ob-uk/account-info-openapi.yaml", "api.bank.example", ""),
        spec("ob-uk/payment-initiation-openapi.yaml", "api.bank.example", ""),
        spec("ob-uk/v3.1.11/account-info-openapi.yaml", "api.bank.example", "superseded = true"),
        spec("adyen/TransferService-v4.json", "platform.bank.example", ""),
        spec("auth/token-endpoint.yaml", "auth.bank.example", ""),
        "[behaviour]\ntimezone = \"Europe/London\"\n".into(),
    ]
    .concat()
}

/// A running nginx (stopped on drop).
pub struct Nginx {
    pid_file: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pid_file) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Starts nginx as a daemon in `dir` (its pid, logs and temporary files there) with `http`
/// inside its `http { }` block (the server blocks and any http-level settings).
pub fn start_nginx(dir: &Path, http: &str) -> Nginx {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = format!(
        "daemon on; pid {d}/nginx.pid; error_log {d}/error.log; worker_processes 1;\nevents {{}}\nhttp {{\n  access_log off; default_type application/json; client_body_temp_path {d}/body;\n{http}\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let status = Command::new("nginx").arg("-c").arg(dir.join("nginx.conf")).status().expect("nginx is not installed: run scripts/install-deps.sh");
    assert!(status.success(), "nginx did not start: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
    Nginx { pid_file: dir.join("nginx.pid") }
}

/// Starts `apitap capture` on loopback with a BPF `filter`, writing to `out`, with `extra`
/// arguments, and returns once it is capturing.
pub fn spawn_capture(filter: &str, out: &Path, extra: &[&std::ffi::OsStr]) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["capture", "--interface", "lo", "--no-promisc", "--filter", filter])
        .args(extra)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    await_capturing(&mut child, "lo");
    child
}

/// Waits until an `apitap capture` child says its capture handle is open (so nothing is sent
/// before it), then keeps draining its standard error so it never blocks on a full pipe.
fn await_capturing(child: &mut std::process::Child, interface: &str) {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ready = format!("capturing on {interface}");
    loop {
        assert!(std::time::Instant::now() < deadline, "apitap capture did not become ready");
        match lines.next() {
            Some(Ok(line)) if line.contains(&ready) => break,
            Some(Ok(_)) => continue,
            _ => panic!("apitap capture exited before it was ready (root or CAP_NET_RAW needed)"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
}

/// Kills a child process when the test ends, also on a failed assertion.
pub struct Proc(pub std::process::Child);

impl Proc {
    /// Asks the process to end (SIGINT: tcpdump writes what it holds) and waits for it, at
    /// most 10 seconds.
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
        for _ in 0..200 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts tcpdump on loopback writing `pcap`, and returns once it is writing.
pub fn start_tcpdump(filter: &str, pcap: &Path) -> Proc {
    use std::time::{Duration, Instant};
    let child = Command::new("tcpdump")
        .args(["-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w"])
        .arg(pcap)
        .arg(filter)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tcpdump is not installed");
    // tcpdump gives no readiness signal on a file: wait for its header to appear.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(pcap).map_or(0, |m| m.len()) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    Proc(child)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `cmd`, fails the test with its standard error unless it succeeds, and returns its
/// standard output.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The base64 alphabets of RFC 4648 (section 4, and section 5's URL-safe one).
pub const BASE64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// See [`BASE64_STD`].
pub const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `data` in base64 with `alphabet`, `=`-padded when `pad`: written here, independently of
/// the sensor's code, so tests can build credentials and look for their encodings.
pub fn base64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}
