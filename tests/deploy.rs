//! The deploy files, checked by independent tools: the systemd unit with `systemd-analyze
//! verify` and its offline security score, the Dockerfile with hadolint, the Kubernetes
//! manifests against the Kubernetes API's own schemas, and the configuration they carry with
//! `apitap check-config`. Each check is also shown to catch a broken copy, so a checker that
//! silently accepts everything cannot pass the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A checker from scripts/install-deploy-tools.sh (exported by scripts/test.sh).
fn tool(var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: run the tests through scripts/test.sh, or export what scripts/install-deploy-tools.sh prints")
    });
    assert!(path.exists(), "{var}={} does not exist: run scripts/install-deploy-tools.sh", path.display());
    path
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The unit with ExecStart and ExecStartPre pointing at the binary under test (verify checks
/// that the executables exist).
fn unit_for_test(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let unit = std::fs::read_to_string(repo().join("deploy/apitap.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/apitap", env!("CARGO_BIN_EXE_apitap"));
    let path = dir.join("apitap.service");
    std::fs::write(&path, edit(unit)).unwrap();
    path
}

#[test]
fn systemd_unit_verifies_cleanly_and_scores_as_sandboxed() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path(), |u| u);
    let out = run(Command::new("systemd-analyze").arg("verify").arg(&unit));
    assert!(out.status.success() && text(&out).trim().is_empty(), "systemd-analyze verify: {}", text(&out));

    // The same check flags a misspelt sandboxing option (which systemd would silently ignore).
    let bad_dir = tempfile::tempdir().unwrap();
    let bad = unit_for_test(bad_dir.path(), |u| u.replace("ProtectHome=yes", "ProtectHomes=yes"));
    let out = run(Command::new("systemd-analyze").arg("verify").arg(&bad));
    assert!(text(&out).contains("ProtectHomes"), "a misspelt key went unnoticed: {}", text(&out));

    // systemd's own exposure score (0 = locked down, 10 = nothing restricted).
    let out = run(Command::new("systemd-analyze").args(["security", "--offline=true", "--no-pager"]).arg(&unit));
    let all = text(&out);
    let line = all.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| panic!("no score in: {all}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score from {line:?}"));
    assert!(score <= 3.0, "exposure {score} (want 3.0 or less): {line}");

    // The daemon is run as an unprivileged user with only the capture capabilities.
    let unit = std::fs::read_to_string(repo().join("deploy/apitap.service")).unwrap();
    for want in [
        "User=apitap",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ExecStart=/usr/local/bin/apitap run --config /etc/apitap/apitap.toml",
    ] {
        assert!(unit.lines().any(|l| l.trim() == want), "deploy/apitap.service lacks {want}");
    }
}

#[test]
fn dockerfile_passes_hadolint_and_runs_unprivileged() {
    let hadolint = tool("APITAP_HADOLINT");
    let file = repo().join("deploy/Dockerfile");
    let out = run(Command::new(&hadolint).arg("--no-color").arg(&file));
    assert!(out.status.success(), "hadolint: {}", text(&out));

    let docker = std::fs::read_to_string(&file).unwrap();
    let stages = docker.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "not a multi-stage build ({stages} FROM lines)");
    let last_stage = docker.rsplit("\nFROM ").next().unwrap();
    assert!(last_stage.contains("COPY --from=build"), "the final stage does not copy the binary from the build stage");
    let user = last_stage.lines().filter_map(|l| l.strip_prefix("USER ")).next_back().expect("the final stage sets no USER");
    let uid: u32 = user.split(':').next().unwrap().trim().parse().unwrap_or_else(|_| panic!("USER {user} is not numeric"));
    assert_ne!(uid, 0, "the image runs as root");
    assert!(!last_stage.contains("cargo"), "the runtime stage carries the toolchain");

    // hadolint does flag an image whose last user is root.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, docker.replace("USER 10001:10001", "USER root")).unwrap();
    let out = run(Command::new(&hadolint).arg("--no-color").arg(&bad));
    assert!(!out.status.success() && text(&out).contains("DL3002"), "hadolint missed USER root: {}", text(&out));
}

#[test]
fn kubernetes_manifests_match_the_api_schemas_and_carry_a_valid_configuration() {
    let validate = tool("APITAP_KUBE_VALIDATE");
    let file = repo().join("deploy/kubernetes/apitap-daemonset.yaml");
    let out = run(Command::new(&validate).args(["--strict", "--quiet"]).arg(&file));
    assert!(out.status.success(), "kubernetes-validate: {}", text(&out));

    let yaml = std::fs::read_to_string(&file).unwrap();
    // A misspelt field is refused by the same strict check.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, yaml.replace("hostNetwork: true", "hostNetworking: true")).unwrap();
    let out = run(Command::new(&validate).args(["--strict", "--quiet"]).arg(&bad));
    assert!(!out.status.success(), "kubernetes-validate accepted hostNetworking: {}", text(&out));

    let docs: Vec<serde_json::Value> = yaml
        .split("\n---\n")
        .map(|d| serde_norway::from_str(d).unwrap_or_else(|e| panic!("YAML: {e}")))
        .collect();
    let kind = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap_or_else(|| panic!("no {k}"));
    let ds = kind("DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true, "capture needs the host's interfaces");
    let c = &pod["containers"][0]["securityContext"];
    assert_eq!(c["runAsNonRoot"], true);
    assert_ne!(c["runAsUser"], 0);
    assert_eq!(c["capabilities"]["drop"][0], "ALL");
    let added: Vec<&str> = c["capabilities"]["add"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(added, ["NET_RAW", "NET_ADMIN"]);

    // The configuration it mounts passes apitap's own check (with a stand-in for the secret
    // the pod mounts at the path the configuration names).
    let secret_path = "/etc/apitap/secret/hash.key";
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| secret_path.starts_with(m["mountPath"].as_str().unwrap()) && m["name"] == "hash-key"));
    let toml = kind("ConfigMap")["data"]["apitap.toml"].as_str().unwrap();
    assert!(toml.contains(secret_path), "the configuration does not read the mounted secret");
    let key = dir.path().join("hash.key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let cfg = dir.path().join("apitap.toml");
    std::fs::write(&cfg, toml.replace(secret_path, key.to_str().unwrap())).unwrap();
    let out = run(Command::new(env!("CARGO_BIN_EXE_apitap")).arg("check-config").arg(&cfg));
    assert!(out.status.success(), "check-config on the ConfigMap's apitap.toml: {}", text(&out));
}
