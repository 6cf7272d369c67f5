//! A real Kafka-protocol broker for the integration tests: tansu, started on loopback by the
//! test itself, with optional SCRAM users (tansu's `--authentication`) and optional TLS in front
//! of it (stunnel: tansu 0.6's command line cannot turn its own TLS on, its `--cert` and `--key`
//! exclude each other). Messages are read back with an independent client (Python's
//! confluent-kafka, `tests/kafka/read_topics.py`). `scripts/install-kafka-tools.sh` builds and
//! caches the tools; the harness runs it when `APITAP_TANSU` / `APITAP_KAFKA_PYTHON` are unset.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Where the broker and the reader are.
#[derive(Clone, Debug)]
pub struct Tools {
    /// The tansu binary.
    pub tansu: PathBuf,
    /// The Python with confluent-kafka and py-ocsf-models.
    pub python: PathBuf,
}

/// Finds (or builds, the first time on a machine) the broker and the reader, once per test
/// binary: tests running in parallel wait for the first one instead of building twice.
/// Panics, naming what is missing and how to provide it, when the tools cannot be found, built
/// or run: a Kafka test must fail then, never pass without a broker.
pub fn tools() -> Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(find_tools).clone()
}

const TOOLS_HINT: &str = "the Kafka integration tests need the tansu broker and a Python with confluent-kafka and \
     py-ocsf-models: scripts/install-kafka-tools.sh builds and caches them (about 25 minutes on 2 cores the first \
     time), or set APITAP_TANSU and APITAP_KAFKA_PYTHON to working ones";

fn find_tools() -> Tools {
    let tools = match (std::env::var("APITAP_TANSU"), std::env::var("APITAP_KAFKA_PYTHON")) {
        (Ok(t), Ok(p)) => Tools { tansu: t.into(), python: p.into() },
        _ => install_tools(),
    };
    let runs = |cmd: &mut Command| cmd.stdin(Stdio::null()).output().map_err(|e| e.to_string()).and_then(|o| {
        if o.status.success() {
            Ok(())
        } else {
            Err(format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr).trim()))
        }
    });
    if let Err(e) = runs(Command::new(&tools.tansu).arg("--version")) {
        panic!("tansu at {} does not run ({e}); {TOOLS_HINT}", tools.tansu.display());
    }
    let imports = "import confluent_kafka, py_ocsf_models.events.findings.detection_finding";
    if let Err(e) = runs(Command::new(&tools.python).args(["-c", imports])) {
        panic!("{} cannot import confluent-kafka and py-ocsf-models ({e}); {TOOLS_HINT}", tools.python.display());
    }
    tools
}

fn install_tools() -> Tools {
    let script = Path::new(ROOT).join("scripts/install-kafka-tools.sh");
    let out = Command::new(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {TOOLS_HINT}", script.display()));
    assert!(out.status.success(), "{} failed ({}, its output is above); {TOOLS_HINT}", script.display(), out.status);
    let text = String::from_utf8(out.stdout).unwrap();
    let get = |k: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).map(PathBuf::from).unwrap_or_else(|| panic!("{k} not printed: {text}"));
    Tools { tansu: get("APITAP_TANSU"), python: get("APITAP_KAFKA_PYTHON") }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port}");
}

/// SCRAM mechanism of a broker user.
#[derive(Clone, Copy, Debug)]
pub enum Scram {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

/// Files of the test's certificate authority, server and client.
#[derive(Clone, Debug)]
pub struct Pki {
    /// CA certificate (PEM).
    pub ca: PathBuf,
    /// Server certificate and key (for 127.0.0.1).
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Client certificate and key (for mutual TLS).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// Makes a CA, a server certificate for 127.0.0.1 and a client certificate with openssl.
pub fn make_pki(dir: &Path) -> Pki {
    fs::create_dir_all(dir).unwrap();
    let ssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    ssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=apitap-test-ca"]);
    fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    for who in ["server", "client"] {
        ssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &format!("{who}.key"), "-out", &format!("{who}.csr"), "-subj", &format!("/CN=apitap-test-{who}")]);
        let mut args = vec!["x509", "-req", "-in", "", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "", "-days", "2"];
        let csr = format!("{who}.csr");
        let pem = format!("{who}.pem");
        args[3] = &csr;
        args[10] = &pem;
        if who == "server" {
            args.extend(["-extfile", "server.ext"]);
        }
        ssl(&args);
    }
    Pki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    }
}

impl Pki {
    /// The client key again, encrypted with `password` (AES-256, PEM), for a client that must
    /// unlock its key; `client_key` stays unencrypted for the reader.
    pub fn encrypted_client_key(&self, password: &str) -> PathBuf {
        let out = self.client_key.with_file_name("client-encrypted.key");
        let res = Command::new("openssl")
            .args(["pkey", "-aes256", "-passout", &format!("pass:{password}"), "-in"])
            .arg(&self.client_key)
            .arg("-out")
            .arg(&out)
            .stdin(Stdio::null())
            .output()
            .expect("openssl");
        assert!(res.status.success(), "openssl pkey: {}", String::from_utf8_lossy(&res.stderr));
        let pem = fs::read_to_string(&out).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{} is not encrypted", out.display());
        out
    }
}

/// How to run the broker.
#[derive(Clone, Debug, Default)]
pub struct BrokerOptions {
    /// Keep messages in SQLite (they survive a broker restart) rather than in memory.
    pub durable: bool,
    /// Topics and their partitions, created before clients connect.
    pub topics: Vec<(String, u32)>,
    /// SCRAM users; with any, the broker requires authentication.
    pub users: Vec<(String, String, Scram)>,
    /// TLS in front of the broker with this PKI; `require_client_cert` for mutual TLS.
    pub tls: Option<(Pki, bool)>,
}

/// A running broker (killed on drop).
pub struct Broker {
    tools: Tools,
    dir: PathBuf,
    opts: BrokerOptions,
    /// Port tansu listens on (plaintext).
    listen: u16,
    /// Port clients use (the TLS front's when TLS is on).
    client_port: u16,
    broker: Option<Child>,
    front: Option<Child>,
    /// Times the broker was started.
    pub starts: u32,
}

impl Broker {
    /// Starts a broker in `dir` (its store and logs), creates users and topics.
    pub fn start(tools: &Tools, dir: &Path, opts: BrokerOptions) -> Broker {
        fs::create_dir_all(dir).unwrap();
        let listen = free_port();
        let client_port = if opts.tls.is_some() { free_port() } else { listen };
        let mut b = Broker { tools: tools.clone(), dir: dir.to_path_buf(), opts, listen, client_port, broker: None, front: None, starts: 0 };
        // Users and topics are created through the broker's own API, which asks for
        // authentication once it is on: set them up first (on the durable store), then restart.
        let auth = !b.opts.users.is_empty();
        if auth {
            assert!(b.opts.durable, "users need the durable store to survive the restart into authentication");
        }
        b.spawn(false);
        for (name, password, mech) in b.opts.users.clone() {
            let mech = match mech {
                Scram::Sha256 => "scram256",
                Scram::Sha512 => "scram512",
            };
            b.tansu(&["user", "create", &name, &password, "--mechanism", mech]);
        }
        for (topic, partitions) in b.opts.topics.clone() {
            b.tansu(&["topic", "create", &topic, "--partitions", &partitions.to_string()]);
        }
        if auth {
            b.stop();
            b.spawn(true);
        }
        if let Some((pki, require)) = b.opts.tls.clone() {
            b.start_front(&pki, require);
        }
        b
    }

    fn tansu(&self, args: &[&str]) {
        let mut cmd = Command::new(&self.tools.tansu);
        cmd.args(args).arg("--broker").arg(format!("tcp://127.0.0.1:{}", self.listen)).stdin(Stdio::null());
        let out = cmd.output().expect("run tansu");
        assert!(out.status.success(), "tansu {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn spawn(&mut self, auth: bool) {
        let storage = if self.opts.durable { "sqlite://broker.db".to_string() } else { "memory://tansu/".to_string() };
        let log = fs::OpenOptions::new().create(true).append(true).open(self.dir.join("broker.log")).unwrap();
        let mut cmd = Command::new(&self.tools.tansu);
        cmd.arg("broker")
            .arg("--listener-url")
            .arg(format!("tcp://127.0.0.1:{}", self.listen))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{}", self.client_port))
            .arg("--storage-engine")
            .arg(storage)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if auth {
            cmd.arg("--authentication");
        }
        self.broker = Some(cmd.spawn().expect("start tansu"));
        self.starts += 1;
        wait_for_port(self.listen, "tansu");
    }

    fn start_front(&mut self, pki: &Pki, require_client_cert: bool) {
        let mut conf = format!(
            "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{}\nconnect = 127.0.0.1:{}\ncert = {}\nkey = {}\n",
            self.client_port,
            self.listen,
            pki.server_cert.display(),
            pki.server_key.display()
        );
        if require_client_cert {
            conf.push_str(&format!("CAfile = {}\nverifyChain = yes\nrequireCert = yes\n", pki.ca.display()));
        }
        let path = self.dir.join("stunnel.conf");
        fs::write(&path, conf).unwrap();
        let log = fs::File::create(self.dir.join("stunnel.log")).unwrap();
        let child = Command::new("stunnel")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("stunnel is not installed: run scripts/install-deps.sh");
        self.front = Some(child);
        wait_for_port(self.client_port, "stunnel");
    }

    /// `host:port` for clients.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Kills the broker (the TLS front, if any, stays up and refuses to connect through).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.broker.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker again on the same port and store.
    pub fn restart(&mut self) {
        assert!(self.broker.is_none(), "stop it first");
        let auth = !self.opts.users.is_empty();
        self.spawn(auth);
    }

    /// The broker's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        if let Some(mut c) = self.front.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How the reader connects.
#[derive(Clone, Debug, Default)]
pub struct ReaderSecurity {
    /// CA file: TLS.
    pub ca: Option<PathBuf>,
    /// Client certificate and key: mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
    /// SCRAM mechanism name, user and a file holding the password.
    pub sasl: Option<(String, String, PathBuf)>,
}

/// One message read back.
#[derive(Clone, Debug)]
pub struct Read {
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    pub key: String,
    pub value: Value,
    /// The message's timestamp (milliseconds since the epoch; `None` when it has none).
    pub timestamp_ms: Option<i64>,
    /// py-ocsf-models' errors (for the OCSF topic; empty when it validates).
    pub ocsf_errors: Option<Vec<String>>,
    /// The key's bytes as the broker holds them.
    pub raw_key: Vec<u8>,
    /// The value's bytes as the broker holds them (before any JSON decoding).
    pub raw_value: Vec<u8>,
    /// The message's headers: name and value bytes.
    pub raw_headers: Vec<(String, Vec<u8>)>,
}

/// Bytes from the reader's lower-case hex.
fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex length from the reader");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// Reads every message of `topics` from the beginning with the independent client, until
/// `expect_at_least` arrived and then none for a few seconds.
pub fn read_back(tools: &Tools, brokers: &str, topics: &[&str], ocsf_topic: Option<&str>, expect_at_least: usize, sec: &ReaderSecurity, dir: &Path) -> Vec<Read> {
    let out = dir.join(format!("read-{}.jsonl", topics.join("+")));
    let mut cmd = Command::new(&tools.python);
    cmd.arg(Path::new(ROOT).join("tests/kafka/read_topics.py"))
        .arg("--brokers")
        .arg(brokers)
        .arg("--topics")
        .arg(topics.join(","))
        .arg("--out")
        .arg(&out)
        .arg("--expect-at-least")
        .arg(expect_at_least.to_string())
        .stdin(Stdio::null());
    if let Some(t) = ocsf_topic {
        cmd.arg("--ocsf-topic").arg(t);
    }
    if let Some(ca) = &sec.ca {
        cmd.arg("--ca").arg(ca);
    }
    if let Some((cert, key)) = &sec.client {
        cmd.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    if let Some((mech, user, pw)) = &sec.sasl {
        cmd.arg("--sasl-mechanism").arg(mech).arg("--username").arg(user).arg("--password-file").arg(pw);
    }
    let res = cmd.output().expect("run the reader");
    assert!(res.status.success(), "reader failed: {}", String::from_utf8_lossy(&res.stderr));
    fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Read {
                topic: v["topic"].as_str().unwrap().to_string(),
                partition: v["partition"].as_i64().unwrap(),
                offset: v["offset"].as_i64().unwrap(),
                key: v["key"].as_str().unwrap().to_string(),
                value: v["value"].clone(),
                timestamp_ms: v.get("timestamp").and_then(Value::as_i64),
                ocsf_errors: v.get("ocsf_errors").map(|e| e.as_array().unwrap().iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()),
                raw_key: unhex(v["key_hex"].as_str().unwrap()),
                raw_value: unhex(v["value_hex"].as_str().unwrap()),
                raw_headers: v["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| (h[0].as_str().unwrap().to_string(), unhex(h[1].as_str().unwrap())))
                    .collect(),
            }
        })
        .collect()
}
