#!/usr/bin/env python3
"""Measures what deckhand costs while idle: bytes written to the terminal and CPU time over a window.

Starts `deckhand demo` in an 80x24 pseudo-terminal, lets it draw its first screen, then counts every byte it
writes and the CPU it uses (utime + stime from /proc) over IDLE seconds (the demo probes its health endpoint every
2 s, so "idle" includes those redraws). Then it starts the long demo phase (one
output line per second) and measures the same while busy. Usage: scripts/idle-probe.py [BINARY] [IDLE_SECONDS]
"""
import fcntl, os, pty, select, signal, struct, sys, tempfile, termios, time

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/deckhand"
window = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
ticks = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def drain(fd, seconds):
    """Reads everything the console writes for `seconds`; returns the byte count."""
    total, end = 0, time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                total += len(os.read(fd, 65536))
            except OSError:
                break
    return total


data = tempfile.mkdtemp(prefix="deckhand-probe-")
pid, fd = pty.fork()
if pid == 0:
    os.environ.update({"DECKHAND_DATA_DIR": data, "TERM": "xterm-256color"})
    os.execv(binary, [binary, "demo"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
first = drain(fd, 1.5)
c0 = cpu_seconds(pid)
idle = drain(fd, window)
c1 = cpu_seconds(pid)
print(f"first screen: {first} bytes")
print(f"idle {window:.0f} s: {idle} bytes written, {c1 - c0:.3f} s CPU")
os.write(fd, b"jjjjjj\r")  # three checklist rows, the backup row, two phases, then the long task (1 line/s)
drain(fd, 1.0)
c2 = cpu_seconds(pid)
busy = drain(fd, window)
c3 = cpu_seconds(pid)
print(f"busy {window:.0f} s (1 line/s): {busy} bytes written, {c3 - c2:.3f} s CPU")
os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
