#!/usr/bin/env python3
"""Team mode's cost per command, on the real release binary, beside a bare `psql -c 'select 1'` to the same team
database (process start, connect, one query: the floor any tool pays). Usage: scripts/team-bench.py TEAM_URL
[--runs 9] [--binary PATH]. Initialises the team schema in that database (`deckhand team init`)."""
import argparse, os, statistics, subprocess, tempfile, time

p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("--runs", type=int, default=9)
p.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "deckhand"))
a = p.parse_args()
d = tempfile.mkdtemp()
open(os.path.join(d, "deckhand.toml"), "w").write(
    '[project]\nname = "bench"\nenvironment = "production"\n\n[[phase]]\nname = "p"\nsteps = [{ run = "true" }]\n\n'
    '[team]\ndatabase = "${DECKHAND_TEAM_URL}"\napprove = ["production"]\n')
env = dict(os.environ, DECKHAND_TEAM_URL=a.url)
subprocess.run([a.binary, "team", "init"], cwd=d, env=env, check=True, capture_output=True)

def measure(name, args):
    times, codes = [], set()
    for _ in range(a.runs):
        t = time.perf_counter()
        r = subprocess.run(args, cwd=d, env=env, capture_output=True)
        times.append(time.perf_counter() - t); codes.add(r.returncode)
    print(f"{name:<34} median {statistics.median(times)*1000:6.1f} ms (min {min(times)*1000:.1f}, "
          f"max {max(times)*1000:.1f}) exit {sorted(codes)}")

measure("psql -c 'select 1' (the floor)", ["psql", a.url, "-qAtc", "select 1"])
measure("deckhand team status", [a.binary, "team", "status"])
measure("deckhand approve (nothing waiting)", [a.binary, "approve", "--yes"])
measure("deckhand history PLAN (team runs)", [a.binary, "history", "deckhand.toml"])
