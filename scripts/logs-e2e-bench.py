#!/usr/bin/env python3
"""Live logs through the real binary, measured from outside (issue 17), beside the tools an operator would use.

Drives `deckhand run PLAN` in a 200x50 pseudo-terminal. The plan has one `[[logs]]` command source with an `error`
regex; the logs pane gets a filter typed with `/` before the flood starts. Each figure is printed with its peer from
the same run:

  ingest   `cat FILE` of N lines of 150 B (varied, as real logs are) until the file's last line (it matches the
           filter) is on screen; peer: `cat FILE | grep -cE RE` (and `lnav -n` when installed).
  memory   VmRSS once every line is buffered (the pane keeps the newest 1,000,000), and VmRSS sampled during a
           long flood (`seq -f` lines of 150 B): min, max and spread once the buffer is full.
  keys     during a flood of ~100k lines/s (a rate-limited writer), `/` is pressed and the time until the filter
           prompt is on screen is taken, 25 times; then the terminal bytes per second of that flood.

Usage: scripts/logs-e2e-bench.py [--binary target/release/deckhand] [--lines 1000000] [--runs 3]
                                 [--flood-lines 20000000] [--skip-flood] [--only ingest|keys|flood]
Medians and spreads are printed; nothing is asserted (figures depend on the machine).
"""
import argparse, fcntl, os, pty, select, shutil, signal, statistics, struct, subprocess, sys, tempfile, termios, time

FILTER = "slow"
ERROR = "ERROR|FATAL"


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default="target/release/deckhand")
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--flood-lines", type=int, default=20_000_000)
    p.add_argument("--skip-flood", action="store_true")
    p.add_argument("--only", choices=["ingest", "keys", "flood"], help="run one measurement")
    return p.parse_args()


def make_file(path, n):
    """n lines of 150 bytes (149 + newline): varied ids, paths and latencies; every 50th is slow, every 997th an
    error; the last one is slow and carries a marker."""
    paths = ["/api/orders", "/api/customers/42", "/api/health", "/api/cart/items", "/static/app.js"]
    with open(path, "w") as f:
        for i in range(n):
            level = "ERROR" if i % 997 == 0 else "INFO "
            what = "slow query" if i % 50 == 0 else "ok"
            body = f"2026-12-05T12:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z {level} req={i:09d} " \
                   f"GET {paths[i % 5]} 200 {i % 997}ms {what}"
            if i == n - 1:
                body = f"{body} slow END-OF-FLOOD"
            f.write(body.ljust(149, ".")[:149] + "\n")


def plan(dir, command):
    path = os.path.join(dir, "deckhand.toml")
    with open(path, "w") as f:
        f.write('[project]\nname = "bench"\nenvironment = "bench"\n\n')
        f.write(f"[[logs]]\nname = \"api\"\ncommand = '{command}'\nerror = \"{ERROR}\"\nrestart = false\n")
    return path


class Console:
    def __init__(self, binary, plan_path, data):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ.update({"DECKHAND_DATA_DIR": data, "TERM": "xterm-256color"})
            os.execv(binary, [binary, "run", plan_path])
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.out = bytearray()
        self.total = 0

    def pump(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return 0
        try:
            chunk = os.read(self.fd, 1 << 20)
        except OSError:
            return -1
        self.total += len(chunk)
        self.out += chunk
        if len(self.out) > 1 << 16:
            del self.out[: len(self.out) - (1 << 15)]
        return len(chunk)

    def wait_for(self, text, limit=120.0):
        """Reads until `text` shows in what was written since the call; returns when it did."""
        self.out.clear()
        needle = text.encode()
        end = time.monotonic() + limit
        while time.monotonic() < end:
            self.pump(0.05)
            if needle in self.out:
                return time.monotonic()
        raise SystemExit(f"never saw {text!r}")

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.pump(left)

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def start_with_filter(self):
        self.wait_for("api")
        os.write(self.fd, b"3")
        self.drain(0.3)
        os.write(self.fd, f"/{FILTER}\r".encode())
        self.wait_for(f"/{FILTER}/")

    def cpu_seconds(self):
        """CPU time of all the console's threads so far (the runner's worker included), from schedstat."""
        total = 0
        for task in os.listdir(f"/proc/{self.pid}/task"):
            with open(f"/proc/{self.pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9

    def quit(self):
        os.kill(self.pid, signal.SIGTERM)
        os.waitpid(self.pid, 0)


def timed(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def spread(xs):
    return f"median {statistics.median(xs):.3f}, min {min(xs):.3f}, max {max(xs):.3f}"


def ingest(args, work, data):
    path = os.path.join(work, "flood.log")
    make_file(path, args.lines)
    # The source waits on a FIFO (no polling): the flood starts the moment the bench writes to it.
    go = os.path.join(work, "GO")
    os.mkfifo(go)
    deck, cpu, rss, grep, lnav = [], [], [], [], []
    for _ in range(args.runs):
        p = plan(work, f"read go < {go}; cat {path}")
        c = Console(args.binary, p, data)
        c.start_with_filter()
        c.out.clear()
        cpu0 = c.cpu_seconds()
        with open(go, "w") as fifo:
            t0 = time.monotonic()
            fifo.write("go\n")
        t1 = c.wait_for("END-OF-FLOOD", limit=600)
        deck.append(t1 - t0)
        cpu.append(c.cpu_seconds() - cpu0)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"  run: {t1 - t0:.3f} s, console CPU {cpu[-1]:.3f} s", file=sys.stderr)
        c.drain(0.5)
        rss.append(c.rss_kib() / 1024)
        c.quit()
        grep.append(timed(f"cat {path} | grep -cE '{FILTER}'"))
        if shutil.which("lnav"):
            lnav.append(timed(f"lnav -n -c ':filter-in {FILTER}' {path}"))
    n = args.lines
    print(f"ingest {n} lines of 150 B, filter /{FILTER}/, error /{ERROR}/ ({args.runs} runs)")
    print(f"  deckhand run (pty 200x50): {spread(deck)} s = {n / statistics.median(deck) / 1e6:.2f} M lines/s")
    print(f"  deckhand CPU (all threads): {spread(cpu)} s")
    print(f"  cat | grep -cE           : {spread(grep)} s = {n / statistics.median(grep) / 1e6:.2f} M lines/s")
    print(f"  deckhand / grep time     : {statistics.median(deck) / statistics.median(grep):.2f}x")
    if lnav:
        print(f"  lnav -n (headless)       : {spread(lnav)} s")
    else:
        print("  lnav: not installed")
    print(f"  RSS with {min(n, 1_000_000)} lines buffered: {spread(rss)} MiB")


def flood(args, work, data):
    n = args.flood_lines
    pad = "." * 80  # 150 B lines with their newline
    cmd = f"seq -f \"%012.0f 2026-12-05T12:00:00.000Z INFO  GET /api/orders 200 12ms {pad}\" 1 {n}; echo slow END-OF-FLOOD"
    c = Console(args.binary, plan(work, cmd), data)
    c.wait_for("api")
    samples, t0 = [], time.monotonic()
    c.out.clear()
    needle = b"END-OF-FLOOD"
    # The buffer is full once the pane's title counts dropped lines (the word shows up then, once).
    full_at = None
    while needle not in c.out:
        c.pump(0.5)
        now = time.monotonic() - t0
        if full_at is None and b"dropped" in c.out:
            full_at = now
        samples.append((now, c.rss_kib() / 1024))
    took = time.monotonic() - t0
    c.quit()
    if full_at is None:
        full_at = took
    after = [r for t, r in samples if t > full_at] or [samples[-1][1]]
    lo, hi = min(after), max(after)
    print(f"flood of {n} lines (seq -f, 150 B): {took:.1f} s = {n / took / 1e6:.2f} M lines/s")
    print(f"  RSS once full (from {full_at:.1f} s on, {len(after)} samples): min {lo:.0f} MiB, max {hi:.0f} MiB, "
          f"spread {(hi - lo) / lo * 100:.1f}%")


WRITER = r"""
import sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
out = sys.stdout
i, t0 = 0, time.monotonic()
while (now := time.monotonic()) - t0 < secs:
    due = int((now - t0) * rate)
    lines = []
    while i < due:
        lines.append(f"2026-12-05T12:00:00.{i % 1000:03d}Z INFO  req={i:09d} GET /api/orders/{i % 7919} 200 {i % 997}ms".ljust(149, ".") + "\n")
        i += 1
    out.write("".join(lines))
    out.flush()
    time.sleep(0.002)
"""


def keys(args, work, data):
    writer = os.path.join(work, "writer.py")
    with open(writer, "w") as f:
        f.write(WRITER)
    c = Console(args.binary, plan(work, f"python3 {writer} 100000 30"), data)
    c.wait_for("api")
    os.write(c.fd, b"3")
    c.drain(2.0)
    lat = []
    for _ in range(25):
        c.out.clear()
        t0 = time.monotonic()
        os.write(c.fd, b"/")
        t1 = c.wait_for("filter /", limit=5)
        lat.append((t1 - t0) * 1000)
        os.write(c.fd, b"\x1b")
        c.drain(0.15)
    before = c.total
    c.drain(5.0)
    rate = (c.total - before) / 5.0
    c.quit()
    lat.sort()
    print(f"key to screen during a 100k lines/s flood (25 presses of /): median {statistics.median(lat):.1f} ms, "
          f"max {lat[-1]:.1f} ms, min {lat[0]:.1f} ms")
    print(f"  terminal bytes during that flood at 200x50: {rate / 1000:.1f} KB/s")


def main():
    args = parse()
    work = tempfile.mkdtemp(prefix="deckhand-logs-bench-")
    data = os.path.join(work, "data")
    os.mkdir(data, 0o700)
    try:
        for name, run in [("ingest", ingest), ("keys", keys), ("flood", flood)]:
            if args.only in (None, name) and not (name == "flood" and args.skip_flood and args.only is None):
                run(args, work, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
