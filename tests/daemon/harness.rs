//! Starting and stopping `apitap run` in tests: a daemon on the loopback interface with its
//! configuration, state and logs in a temporary folder, a real nginx to capture, and curl as
//! the client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A hashing secret file (mode 0600) in `dir`.
pub fn hash_key(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("hash.key");
    std::fs::write(&path, "d41d8cd98f00b204e9800998ecf8427e-test-deployment").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A running `apitap run`; killed on drop if a test fails before stopping it.
pub struct Daemon {
    child: Option<Child>,
    /// Every line the daemon wrote to standard error so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts `apitap run --config FILE` and waits for its capture to be open.
    pub fn start(config: &Path) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apitap"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let d = Daemon { child: Some(child), log };
        d.wait_for_log("capture open", Duration::from_secs(30));
        d
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The log so far as one string.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `needle`; panics with the log after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_log_after(0, needle, timeout)
    }

    /// Lines logged so far.
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Waits for a line containing `needle` among the lines logged after the first `skip`.
    pub fn wait_for_log_after(&self, skip: usize, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().skip(skip).find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(Instant::now() < deadline, "no log line with {needle:?} within {timeout:?}; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the process to exit (at most `timeout`) and returns its status.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                // Let the reader thread catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < deadline, "the daemon did not exit within {timeout:?}; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        let status = self.wait(Duration::from_secs(60));
        (status, self.log_text())
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) -> String {
        self.signal("KILL");
        let _ = self.wait(Duration::from_secs(10));
        self.log_text()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `apitap` with `args` to completion.
pub fn apitap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).output().unwrap()
}

/// An unsigned JWT (apitap decodes, it does not verify) with these claims.
pub fn jwt(claims: &str) -> String {
    let b64url = |data: &[u8]| crate::common::base64(data, crate::common::BASE64_URL, false);
    format!("{}.{}.c2lnbmF0dXJl", b64url(br#"{"alg":"RS256","typ":"JWT"}"#), b64url(claims.as_bytes()))
}

/// One curl request; returns the HTTP status.
pub fn curl(url: &str, headers: &[String]) -> u16 {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]);
    for h in headers {
        cmd.arg("-H").arg(h);
    }
    let out = cmd.arg(url).output().expect("curl is not installed: run scripts/install-deps.sh");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// The counters of the last "run summary" line of a JSON log.
pub fn run_summary(log: &str) -> serde_json::Value {
    let line = log
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "run summary")
        .unwrap_or_else(|| panic!("no run summary in:\n{log}"));
    serde_json::from_str(line["summary"].as_str().unwrap()).unwrap()
}

/// A daemon configuration capturing `port` on loopback, with state under `dir` and metrics on
/// a free port (the tests run side by side).
pub fn config(dir: &Path, port: u16, extra: &str) -> std::path::PathBuf {
    let key = hash_key(dir);
    let text = format!(
        "[daemon]\nhash_key_file = \"{key}\"\nlog_format = \"json\"\nshutdown_deadline_secs = 20\n{extra}\n\
         [capture]\ninterface = \"lo\"\npromiscuous = false\nfilter = \"tcp port {port}\"\n\n\
         [store]\npath = \"{state}/apitap.db\"\ncheckpoint_interval_secs = 5\n\n\
         [report]\ndir = \"{state}/reports\"\n\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n",
        key = key.display(),
        metrics = free_port(),
        state = dir.join("state").display()
    );
    let path = dir.join("apitap.toml");
    std::fs::write(&path, text).unwrap();
    path
}
