//! Least privilege: once the capture handle is open and the metrics port bound, the daemon
//! needs no privilege at all (reading from an open packet socket needs none). It switches to
//! an unprivileged user, or, when started unprivileged with capabilities (systemd's
//! `AmbientCapabilities=CAP_NET_RAW`), clears every capability; either way
//! `no_new_privs` is set so nothing it could run regains any.
//!
//! Not supported: re-opening the capture after the drop (an interface that disappears stops
//! the daemon, and the service manager restarts it with its privileges).

use anyhow::{anyhow, bail, Context, Result};
use caps::CapSet;
use nix::unistd::{Gid, Uid, User};

/// What the process runs as after [`drop_privileges`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Whether any capability is left in the effective or permitted set (never, on success).
    pub capabilities_left: bool,
}

fn clear_all_capabilities() -> Result<()> {
    // The ambient set first: it cannot hold what the permitted set no longer has anyway, and
    // clearing it keeps capabilities from passing to any child.
    caps::clear(None, CapSet::Ambient).map_err(|e| anyhow!("cannot clear the ambient capabilities: {e}"))?;
    for set in [CapSet::Effective, CapSet::Inheritable, CapSet::Permitted] {
        caps::clear(None, set).map_err(|e| anyhow!("cannot clear the {set:?} capabilities: {e}"))?;
    }
    Ok(())
}

fn capabilities_left() -> bool {
    [CapSet::Effective, CapSet::Permitted].iter().any(|s| caps::read(None, *s).map_or(true, |c| !c.is_empty()))
}

/// Switches to `user` (when given) and drops every capability. Call it once, before starting
/// threads of our own (the C library applies the switch to every thread, but fewer threads
/// means less to go wrong). Fails, naming the user and the fix, rather than running with more
/// privilege than asked.
pub fn drop_privileges(user: Option<&str>) -> Result<Dropped> {
    if let Some(name) = user {
        let entry = User::from_name(name)
            .with_context(|| format!("[daemon] user {name:?}: cannot look it up"))?
            .ok_or_else(|| anyhow!("[daemon] user {name:?} does not exist; create it (useradd --system --no-create-home {name}) or change the key"))?;
        if Uid::effective() != entry.uid {
            if !Uid::effective().is_root() {
                bail!(
                    "[daemon] user {name:?}: apitap runs as uid {} and cannot switch users; start it as root, or leave `user` out and start it as {name:?} with CAP_NET_RAW",
                    Uid::effective()
                );
            }
            // Out of every set the capability bounding set first, while CAP_SETPCAP is held.
            caps::clear(None, CapSet::Bounding).map_err(|e| anyhow!("cannot clear the capability bounding set: {e}"))?;
            nix::unistd::setgroups(&[entry.gid]).context("cannot set the supplementary groups")?;
            nix::unistd::setresgid(entry.gid, entry.gid, entry.gid).with_context(|| format!("cannot switch to group {}", entry.gid))?;
            nix::unistd::setresuid(entry.uid, entry.uid, entry.uid).with_context(|| format!("cannot switch to user {name:?}"))?;
            if nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok() {
                bail!("switched to user {name:?} but could switch back to root: refusing to run like this");
            }
        }
    }
    clear_all_capabilities()?;
    nix::sys::prctl::set_no_new_privs().context("cannot set no_new_privs")?;
    let left = capabilities_left();
    if left {
        bail!("capabilities are still held after dropping them; refusing to run with them");
    }
    Ok(Dropped { uid: Uid::effective().as_raw(), gid: Gid::effective().as_raw(), capabilities_left: left })
}
