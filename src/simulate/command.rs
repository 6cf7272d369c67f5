//! `apitap simulate`: reads the scenario and its specs, runs the generator, writes
//! `capture.pcap` and `truth.json`.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use apitap_discovery::openapi::load_spec;

use super::gen::{Generator, LoadedApi};
use super::scenario;

/// Arguments of `apitap simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Scenario file (YAML); see fixtures/scenarios/README.md.
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
    /// Random seed: the same scenario and seed give the same capture, byte for byte.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Output directory for capture.pcap and truth.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Simulate only the first N hours of the scenario (injections ending later are left
    /// out); the population is drawn as for the whole scenario.
    #[arg(long, value_name = "N")]
    pub hours: Option<u64>,
}

/// Runs the command.
pub fn run(args: &SimulateArgs) -> Result<()> {
    let mut sc = scenario::load(&args.scenario, args.seed)?;
    let seed = sc.seed;
    if let Some(hours) = args.hours {
        if hours == 0 {
            bail!("--hours 0: give the number of hours to simulate, 1 or more");
        }
        for left_out in sc.truncate(hours) {
            eprintln!("--hours {hours}: injection {left_out} ends later and is left out");
        }
    }
    let mut apis = Vec::new();
    for api in &sc.apis {
        let text = fs::read_to_string(&api.spec).with_context(|| {
            format!(
                "{}: api `{}`: cannot read spec {}; `spec` is relative to the scenario file's folder",
                args.scenario.display(),
                api.name,
                api.spec.display()
            )
        })?;
        let spec = load_spec(&api.spec.display().to_string(), &text)?;
        let base_path = match &api.base_path {
            Some(b) => b.clone(),
            None => spec.base_paths.first().cloned().unwrap_or_default(),
        };
        if spec.operations.is_empty() {
            bail!("{}: api `{}`: the spec has no operations", args.scenario.display(), api.name);
        }
        apis.push(LoadedApi {
            name: api.name.clone(),
            host: api.host.clone(),
            server: api.server,
            base_path,
            currency: api.currency.clone(),
            country: api.country.clone(),
            protocol: api.protocol,
            spec,
        });
    }
    check_operation_filters(&args.scenario, &sc, &apis)?;
    fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let pcap_path = args.out.join("capture.pcap");
    let file = File::create(&pcap_path).with_context(|| format!("cannot create {}", pcap_path.display()))?;
    let generator = Generator::new(&sc, &apis, seed, BufWriter::with_capacity(1 << 20, file))?;
    let (truth, out) = generator.run()?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", pcap_path.display()))?;
    let truth_path = args.out.join("truth.json");
    let json = serde_json::to_string_pretty(&truth)?;
    fs::write(&truth_path, format!("{json}\n")).with_context(|| format!("cannot write {}", truth_path.display()))?;
    eprintln!(
        "simulated `{}` (seed {seed}): {} requests on {} connections, {} packets -> {}, {}",
        truth.scenario,
        truth.requests,
        truth.connections,
        truth.packets,
        pcap_path.display(),
        truth_path.display()
    );
    Ok(())
}

/// Every entry of a consumer's `operations` filter (and of a population group's pool) must
/// name an operation of one of its APIs: a typo would otherwise silently turn a used endpoint
/// into an orphan in the truth.
fn check_operation_filters(file: &std::path::Path, sc: &scenario::Scenario, apis: &[LoadedApi]) -> Result<()> {
    let configured = sc.consumers.iter().filter(|c| c.group.is_none()).map(|c| (format!("consumer `{}`", c.id), &c.apis, &c.operations));
    let groups = sc.group_operations.iter().map(|(g, a, o)| (format!("population group `{g}`"), a, o));
    for (who, names, operations) in configured.chain(groups) {
        for wanted in operations {
            let found = apis.iter().filter(|a| names.contains(&a.name)).any(|a| {
                a.spec.operations.iter().any(|op| op.operation_id.as_deref() == Some(wanted.as_str()) || *wanted == format!("{} {}", op.method, op.path))
            });
            if !found {
                bail!(
                    "{}: {who}: operation `{wanted}` is in none of its APIs ({}); write it as in the spec, e.g. \"GET /accounts/{{AccountId}}\", or use an operationId",
                    file.display(),
                    names.join(", ")
                );
            }
        }
    }
    Ok(())
}
