#!/usr/bin/env python3
"""`deckhand status` direct and through a managed tunnel (socat as the forwarder), side by side, on the real release
binary: median and spread of N runs each. Usage: scripts/tunnel-bench.py POSTGRES_URL [--runs 9] [--binary PATH]
(POSTGRES_URL: postgres://user@127.0.0.1:PORT/db on this machine; needs socat). Prints both figures from one run."""
import argparse, os, socket, statistics, subprocess, tempfile, time, urllib.parse

p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("--runs", type=int, default=9)
p.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "deckhand"))
a = p.parse_args()
u = urllib.parse.urlparse(a.url)
s = socket.socket(); s.bind(("127.0.0.1", 0)); tport = s.getsockname()[1]; s.close()
d = tempfile.mkdtemp()
os.mkdir(os.path.join(d, "migrations"))
for i in range(1, 4):
    open(os.path.join(d, "migrations", f"{i}_t{i}.sql"), "w").write(f"CREATE TABLE bench_t{i} (id int);\n")
head = '[project]\nname = "bench"\nenvironment = "staging"\n\n[database]\nmigrations = "migrations"\nformat = "sqlx"\n'
open(os.path.join(d, "direct.toml"), "w").write(head + f'url = "{a.url}"\n')
tunneled = u._replace(netloc=f"{u.username}@127.0.0.1:{tport}").geturl()
open(os.path.join(d, "tunnel.toml"), "w").write(
    head + f'url = "{tunneled}"\ntunnel = "exec socat TCP-LISTEN:{tport},bind=127.0.0.1,reuseaddr,fork '
    f'TCP:{u.hostname}:{u.port}"\ntunnel_port = {tport}\n')
for name in ["direct", "tunnel"]:
    times, codes = [], set()
    for _ in range(a.runs):
        t = time.perf_counter()
        r = subprocess.run([a.binary, "status", os.path.join(d, f"{name}.toml")], capture_output=True)
        times.append(time.perf_counter() - t); codes.add(r.returncode)
    print(f"deckhand status {name:<6}: median {statistics.median(times)*1000:.0f} ms "
          f"(min {min(times)*1000:.0f}, max {max(times)*1000:.0f}) exit codes {sorted(codes)}")
