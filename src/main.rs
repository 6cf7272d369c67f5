//! `apitap`: a passive API-traffic sensor. `main` runs the command the arguments name (the
//! library, `src/lib.rs`, parses them) and maps failure to an exit code and a cause chain.

use std::process::ExitCode;

/// See the `mimalloc` entry in Cargo.toml for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match apitap::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
