#!/usr/bin/env python3
"""Data impact (and drift, when the binary has it) on a database of about 1 GB with 100 tables (issue 18).

Builds database `deckhand_impact_bench` on the server of ADMIN_URL (dropped first when it exists): tables t000..t099
(created by an applied sqlx migration, through `deckhand migrate`, so drift has a history to replay),
each ~80,000 rows of ~120 bytes (ids, a customer reference with orphans, emails with duplicates, a note column
with NULLs, amounts with negatives and one out of smallint range, a payload), plus `customers`; ANALYZEd. Then a
sqlx migrations folder with one pending migration per table, a mix of what the data decides (SET NOT NULL, a
unique index, a CHECK, a FOREIGN KEY, DROP COLUMN, a narrowing type change, DELETE without WHERE), and runs the
real binary:

  deckhand lint --format json --database-url URL FOLDER        (the data-impact queries; --runs times, median)
  deckhand drift PLAN                                          (when `deckhand drift` exists)

and prints wall times (median, min, max), how many impacts were exact / estimated / not counted, and what the live
server paid during one lint run: rows read (pg_stat_user_tables seq_tup_read + idx_tup_fetch deltas), blocks read,
and every lock mode deckhand's sessions held (pg_locks sampled every 5 ms). Beside it, the same counts run by hand
with psql (`SELECT count(*) …`, no time limit), the peer an operator would otherwise use.

Usage: scripts/impact-bench.py ADMIN_URL [--binary target/release/deckhand] [--runs 3] [--rows 80000]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time
from urllib.parse import urlsplit, urlunsplit

DB = "deckhand_impact_bench"
TABLES = 100


def psql(url, sql, fetch=False):
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], check=True,
                         capture_output=True, text=True).stdout
    return out.strip() if fetch else None


def with_db(url, name):
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


SCHEMA = "CREATE TABLE t{t:03d} (id bigint PRIMARY KEY, customer_id int, email text, note text, amount int, payload text);\n"


def write_plan(work, url):
    plan = os.path.join(work, "deckhand.toml")
    with open(plan, "w") as f:
        f.write(f'[project]\nname = "bench"\nenvironment = "bench"\n\n[database]\nurl = "{url}"\n'
                f'migrations = "migrations"\nformat = "sqlx"\n')
    return plan


def build(admin, url, rows, binary, work):
    """The schema comes from an applied migration (so drift has a history to replay); the rows from psql."""
    psql(admin, f"DROP DATABASE IF EXISTS {DB}")
    psql(admin, f"CREATE DATABASE {DB}")
    folder = os.path.join(work, "migrations")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "0000_schema.sql"), "w") as f:
        f.write("CREATE TABLE customers (id int PRIMARY KEY);\n")
        f.write("".join(SCHEMA.format(t=t) for t in range(TABLES)))
    env = {**os.environ, "DECKHAND_DATA_DIR": os.path.join(work, "data")}
    os.makedirs(env["DECKHAND_DATA_DIR"], mode=0o700, exist_ok=True)
    subprocess.run([binary, "migrate", write_plan(work, url), "--no-backup", "bench", "--no-dry-run", "bench"],
                   check=True, capture_output=True, env=env)
    psql(url, "INSERT INTO customers SELECT generate_series(1, 50000)")
    for t in range(TABLES):
        psql(url, f"""
INSERT INTO t{t:03d} SELECT g, CASE WHEN g % 1000 = 0 THEN 90000 + g ELSE 1 + g % 50000 END,
  'user' || (g % ({rows} - 50)) || '@example.com', CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' END,
  CASE WHEN g = 7 THEN 40000 ELSE (g % 1000) - 5 END, repeat('x', 60)
FROM generate_series(1, {rows}) g;""")
    psql(url, "ANALYZE")
    return psql(url, "SELECT pg_size_pretty(pg_database_size(current_database()))", fetch=True)


STATEMENTS = [
    "ALTER TABLE {t} ALTER COLUMN note SET NOT NULL;",
    "CREATE UNIQUE INDEX {t}_email ON {t} (email);",
    "ALTER TABLE {t} ADD CONSTRAINT {t}_amount CHECK (amount >= 0);",
    "ALTER TABLE {t} ADD CONSTRAINT {t}_customer FOREIGN KEY (customer_id) REFERENCES customers;",
    "ALTER TABLE {t} DROP COLUMN payload;",
    "ALTER TABLE {t} ALTER COLUMN amount TYPE smallint;",
    "DELETE FROM {t};",
]

# What psql would run by hand for the same questions (the peer).
BY_HAND = [
    "SELECT count(*) FROM {t} WHERE note IS NULL",
    "SELECT count(*) FROM (SELECT email FROM {t} GROUP BY email HAVING count(*) > 1) d",
    "SELECT count(*) FROM {t} WHERE NOT (amount >= 0)",
    "SELECT count(*) FROM {t} c WHERE customer_id IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM customers p WHERE p.id = c.customer_id)",
    "SELECT count(payload) FROM {t}",
    "SELECT count(*) FROM {t} WHERE amount NOT BETWEEN -32768 AND 32767",
    "SELECT count(*) FROM {t}",
]


def migrations(folder):
    os.makedirs(folder, exist_ok=True)
    for t in range(TABLES):
        sql = STATEMENTS[t % len(STATEMENTS)].format(t=f"t{t:03d}")
        with open(os.path.join(folder, f"{t + 1:04d}_m{t:03d}.sql"), "w") as f:
            f.write(sql + "\n")


def stats(url):
    row = psql(url, "SELECT COALESCE(sum(seq_tup_read), 0) + COALESCE(sum(idx_tup_fetch), 0), "
                    "(SELECT blks_read + blks_hit FROM pg_stat_database WHERE datname = current_database()) "
                    "FROM pg_stat_user_tables", fetch=True)
    a, b = row.split("|")
    return int(a), int(b)


def sample_locks(url, stop, seen):
    while not stop.is_set():
        try:
            out = psql(url, "SELECT DISTINCT l.mode || CASE WHEN l.granted THEN '' ELSE ' (waiting)' END "
                            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                            "WHERE a.application_name = 'deckhand' AND l.locktype = 'relation'", fetch=True)
            seen.update(x for x in out.splitlines() if x)
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.005)


def spread(xs):
    return f"median {statistics.median(xs):.2f} s, min {min(xs):.2f}, max {max(xs):.2f}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("admin_url")
    p.add_argument("--binary", default="target/release/deckhand")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rows", type=int, default=80_000)
    args = p.parse_args()
    url = with_db(args.admin_url, DB)
    work = tempfile.mkdtemp()
    t0 = time.monotonic()
    size = build(args.admin_url, url, args.rows, args.binary, work)
    print(f"built {TABLES} tables in {time.monotonic() - t0:.0f} s (schema by `deckhand migrate`, rows by psql)")
    print(f"database {DB}: {size}, {TABLES} tables of {args.rows} rows")
    folder = os.path.join(work, "migrations")
    migrations(folder)

    times, report = [], None
    for i in range(args.runs):
        before = stats(url)
        stop, seen = threading.Event(), set()
        sampler = threading.Thread(target=sample_locks, args=(url, stop, seen))
        sampler.start()
        t0 = time.monotonic()
        out = subprocess.run([args.binary, "lint", "--format", "json", "--fail-on", "never",
                              "--database-url", url, folder], capture_output=True, text=True)
        times.append(time.monotonic() - t0)
        stop.set()
        sampler.join()
        after = stats(url)
        if out.returncode != 0:
            sys.exit(f"deckhand lint exited {out.returncode}: {out.stderr}")
        if report is None:
            report = (json.loads(out.stdout), after[0] - before[0], after[1] - before[1], seen)
    data, rows_read, blocks, locks = report
    impacts = [i for f in data["files"] for i in f.get("impacts", [])]
    hows = {}
    for i in impacts:
        hows[i["basis"]["how"]] = hows.get(i["basis"]["how"], 0) + 1
    print(f"deckhand lint --database-url ({len(impacts)} impacts: "
          + ", ".join(f"{n} {h}" for h, n in sorted(hows.items())) + f"): {spread(times)}")
    print(f"  cost to the server (one run): {rows_read:,} rows read, {blocks:,} blocks read or hit; "
          f"lock modes held by deckhand: {', '.join(sorted(locks)) or 'none seen'}")

    t0 = time.monotonic()
    for t in range(TABLES):
        psql(url, BY_HAND[t % len(BY_HAND)].format(t=f"t{t:03d}"), fetch=True)
    print(f"the same counts by hand (psql, one per table, no time limit): {time.monotonic() - t0:.2f} s")

    has_drift = subprocess.run([args.binary, "drift", "--help"], capture_output=True).returncode == 0
    if has_drift:
        plan = write_plan(work, url)
        dt = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            r = subprocess.run([args.binary, "drift", plan], capture_output=True, text=True,
                               env={**os.environ, "DECKHAND_DATA_DIR": os.path.join(work, "data")})
            dt.append(time.monotonic() - t0)
        print(f"deckhand drift (exit {r.returncode}, {r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()[:120]}): {spread(dt)}")
    else:
        print("deckhand drift: not in this binary")


if __name__ == "__main__":
    main()
