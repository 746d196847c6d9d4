//! The process group led by a step's shell: signalling it, telling whether it still has live
//! members, and killing it with `SIGKILL` if the runner is dropped before it dealt with the group.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Owns a process group until [`ProcessGroup::release`]; dropping it earlier kills the group.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    pgid: Option<Pid>,
}

impl ProcessGroup {
    /// The group whose id is the pid of its leader (spawned with `process_group(0)`).
    pub(crate) fn new(leader: Pid) -> Self {
        ProcessGroup { pgid: Some(leader) }
    }

    /// Sends `signal` to every member; a group that is already gone is not an error.
    pub(crate) fn signal(&self, signal: Signal) {
        let Some(pgid) = self.pgid else { return };
        match killpg(pgid, signal) {
            Ok(()) => tracing::debug!(%pgid, ?signal, "signalled process group"),
            Err(err) => tracing::debug!(%pgid, ?signal, %err, "could not signal process group"),
        }
    }

    /// True while some member of the group is still running. Zombies do not count: where nothing
    /// reaps orphans (a container whose pid 1 does not `wait`), they would stay members forever.
    pub(crate) fn has_live_members(&self) -> bool {
        let Some(pgid) = self.pgid else { return false };
        match killpg(pgid, None) {
            Err(Errno::ESRCH) => false,
            // EPERM: members exist but are not ours to signal (e.g. a setuid program).
            Err(_) => true,
            Ok(()) => live_member_in_proc(pgid).unwrap_or_else(|err| {
                tracing::debug!(%pgid, %err, "cannot scan /proc; assuming the group is alive");
                true
            }),
        }
    }

    /// The group has been dealt with (empty, or killed after its leader was reaped): forget it so
    /// that a later drop cannot signal an unrelated group that reuses the id.
    pub(crate) fn release(&mut self) {
        self.pgid = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let result = killpg(pgid, Signal::SIGKILL);
            tracing::debug!(%pgid, ?result, "runner dropped: killed process group");
        }
    }
}

/// Looks through `/proc` for a process of group `pgid` that is not a zombie.
fn live_member_in_proc(pgid: Pid) -> std::io::Result<bool> {
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if !name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        // A process that exits between read_dir and the read is simply skipped.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, pgrp)) = parse_stat(&stat)
            && pgrp == pgid.as_raw()
            && state != 'Z'
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Extracts (state, process group) from `/proc/<pid>/stat`: `pid (comm) state ppid pgrp ...`,
/// where `comm` may itself contain spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_tricky_comm() {
        let stat = "4242 (evil) Z 1 (x) S 7 9) S 1 4240 4240 0 -1 4194560 0 0";
        assert_eq!(parse_stat(stat), Some(('S', 4240)));
        assert_eq!(parse_stat("1 (sleep) Z 1 77 77 0"), Some(('Z', 77)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_group_is_seen_as_live() {
        let own = nix::unistd::getpgrp();
        assert_eq!(live_member_in_proc(own).ok(), Some(true));
    }
}
