//! The process group a tool runs in (spawned with `process_group(0)`, so its id is the tool's pid): signalling
//! it, telling whether anything of it still runs, and killing it with `SIGKILL` when dropped before it was dealt
//! with (a dropped future must not leave `pg_dump` or its parallel workers running).

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The tool's process group; dropped before [`Group::release`], it kills the whole group.
pub struct Group {
    pgid: Option<Pid>,
}

impl Group {
    pub fn new(leader: u32) -> Group {
        Group {
            pgid: i32::try_from(leader)
                .ok()
                .filter(|p| *p > 0)
                .map(Pid::from_raw),
        }
    }

    pub fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, signal);
        }
    }

    /// A member that is not a zombie still exists (zombies may never be reaped where pid 1 does not `wait`).
    pub fn has_live_members(&self) -> bool {
        let Some(pgid) = self.pgid else { return false };
        match killpg(pgid, None) {
            Err(Errno::ESRCH) => false,
            Err(_) => true,
            Ok(()) => live_member(pgid),
        }
    }

    /// The group is dealt with (gone, or its leader reaped and the rest killed): forget it, so a later drop
    /// cannot signal an unrelated group that reuses the id.
    pub fn release(&mut self) {
        self.pgid = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

fn live_member(pgid: Pid) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.filter_map(Result::ok).any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = after.split_ascii_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        pgrp == Some(pgid.as_raw()) && state != "Z"
    })
}
