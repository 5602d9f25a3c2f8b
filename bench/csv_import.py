"""CRM CSV import at size: a ~50 MB file through `fieldline import`, with another writer beside it.

    .venv/bin/python bench/csv_import.py                          # SQLite, a fresh file
    .venv/bin/python bench/csv_import.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fieldline_csv
    .venv/bin/python bench/csv_import.py --repo ../main-before     # the importer of another checkout

1. generates a customers file (one customer per 15 sites) and the measured file: `sites.csv` of
   about --mb MB (default 50), with addresses, coordinates, quoted access notes with commas and
   line breaks, and one row in a thousand bad (a latitude that is not a number), as CRM exports have;
   `--entity customers` measures a customers file of that size instead;
2. migrates the database (a fresh SQLite file unless --database-url; PostgreSQL is migrated, not
   dropped: its rows are upserted, so a second run measures the all-`unchanged` re-import);
3. imports the customers, then the measured file, each with the real CLI in a child process,
   whose peak RSS is read from os.wait4 (ru_maxrss);
4. while the measured file imports, a thread in this process updates one ticket every 50 ms in
   its own short transaction (on SQLite: BEGIN IMMEDIATE, queueing for the single write lock)
   and records how long each write took from BEGIN to COMMIT.

Prints rows, wall time, rows/s, the child's peak RSS, and the writer's p50/p95/max, with the
machine's load. A script, not a test; numbers from a shared machine are smoke figures only.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan_common import ROOT, machine, pct  # noqa: E402

REGION = "BENCH-R"
STREETS = ("Leopoldstr.", "Freisinger Landstr.", "Hauptstr.", "Bahnhofstr.", "Industriestr.", "Am Werk")
CITIES = ("München", "Freising", "Augsburg", "Ingolstadt", "Landshut", "Rosenheim", "Erding")
SEGMENTS = ("manufacturing", "retail", "healthcare", "hospitality", "logistics")
TIERS = ("platinum", "gold", "silver", "standard", "standard", "standard")
NOTES = (
    "Tor 3, Pförtner anrufen",
    "Schlüssel beim Hausmeister, Tel. 089 1234567",
    'Anlieferung über Rampe "Süd"; Parkplatz P2',
    "Zugang nur mit Begleitung.\nSicherheitsunterweisung vorab",
    "",
)


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n') else cell


def customer_line(i: int, rnd: random.Random) -> str:
    name = (
        f"{rnd.choice(('Huber', 'Maier', 'Schmid', 'Bäckerei Sonne', 'Klinikum'))} {rnd.choice(CITIES)} {i}"
    )
    cells = (
        f"CRM-{i:07d}",
        f"{name} GmbH & Co. KG",
        rnd.choice(TIERS),
        rnd.choice(SEGMENTS),
        REGION if i % 3 else "",
        f"{rnd.randint(1_000, 900_000)}.{rnd.randint(0, 99):02d}",
        f"20{rnd.randint(26, 30)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
    )
    return ",".join(_quote(c) for c in cells) + "\n"


def site_line(i: int, customers: int, rnd: random.Random) -> str:
    city = rnd.choice(CITIES)
    lat = "north" if i % 1000 == 999 else f"{rnd.uniform(47.3, 49.5):.5f}"  # 1 in 1000 is bad
    cells = (
        f"S-{i:08d}",
        f"CRM-{rnd.randint(1, customers):07d}",
        f"{rnd.choice(('Werk', 'Filiale', 'Lager', 'Station'))} {city} {i}",
        f"{rnd.choice(STREETS)} {rnd.randint(1, 200)}, {rnd.randint(80000, 89999)} {city}",
        lat,
        f"{rnd.uniform(10.0, 13.0):.5f}",
        REGION if i % 2 else "",
        rnd.choice(NOTES) + (f" (Halle {rnd.randint(1, 9)})" if i % 4 == 0 else ""),
    )
    return ",".join(_quote(c) for c in cells) + "\n"


def write_files(tmp: Path, entity: str, mb: float) -> tuple[Path, Path | None, int]:
    """The measured file (and the customers it needs); its data rows."""
    rnd, target = random.Random(7), int(mb * 2**20)
    if entity == "customers":
        path, rows = tmp / "customers.csv", 0
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write("external_id,name,tier,segment,region_code,arr,renewal_date\n")
            while out.tell() < target:
                rows += 1
                out.write(customer_line(rows, rnd))
        return path, None, rows
    path, rows, size = tmp / "sites.csv", 0, 0
    customers = max(1, int(target / 150 / 15))  # ~150 bytes a site, 15 sites a customer
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(
            "external_id,account_external_id,name,address,latitude,longitude,region_code,access_notes\n"
        )
        while size < target:
            rows += 1
            line = site_line(rows, customers, rnd)
            size += len(line.encode())
            out.write(line)
    cust = tmp / "customers.csv"
    with cust.open("w", encoding="utf-8", newline="") as out:
        out.write("external_id,name,tier,segment,region_code,arr,renewal_date\n")
        out.writelines(customer_line(i, rnd) for i in range(1, customers + 1))
    return path, cust, rows


def prepare_database(url: str) -> int:
    """Migrate; the region the files name and a ticket for the other writer. Returns its id."""
    from sqlalchemy import select

    from app.models import Account, Region, Ticket
    from app.platform.db import unit_of_work
    from app.platform.migrations import upgrade_head

    upgrade_head()
    with unit_of_work() as s:
        if s.scalar(select(Region.id).where(Region.code == REGION)) is None:
            s.add(Region(code=REGION, name="Bench region"))
        ticket = s.scalar(select(Ticket).where(Ticket.subject == "bench: other writer"))
        if ticket is None:
            account = Account(external_id="BENCH-WRITER", name="Other writer GmbH")
            s.add(account)
            s.flush()
            ticket = Ticket(
                account_id=account.id, channel="phone", subject="bench: other writer", priority="P3"
            )
            s.add(ticket)
            s.flush()
        return ticket.id


def run_import(repo: Path, entity: str, path: Path, env: dict[str, str]) -> tuple[float, int, int, str]:
    """`fieldline import` in a child: (wall s, exit code, peak RSS KiB, its output)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "import", entity, str(path)],
            cwd=repo,
            env={**env, "PYTHONPATH": str(repo), "COLUMNS": "120"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return wall, proc.returncode, usage.ru_maxrss, out.read().decode(errors="replace")


def other_writer(url: str, ticket_id: int, stop: threading.Event, took: list[float]) -> None:
    """One small ticket write every 50 ms, each in its own transaction; records BEGIN→COMMIT."""
    from sqlalchemy import text

    from app.platform.db import make_engine

    engine = make_engine(url, busy_timeout_s=600)
    due = time.monotonic()
    n = 0
    while not stop.is_set():
        n += 1
        start = time.monotonic()
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE ticket SET description = :d, version = version + 1 WHERE id = :id"),
                {"d": f"bench write {n}", "id": ticket_id},
            )
        took.append(time.monotonic() - start)
        due = max(due + 0.05, time.monotonic())
        time.sleep(max(0.0, due - time.monotonic()))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    ap.add_argument("--entity", choices=("sites", "customers"), default="sites")
    ap.add_argument("--mb", type=float, default=50.0, help="size of the measured file")
    ap.add_argument(
        "--repo", type=Path, default=ROOT, help="checkout whose importer runs (default: this one)"
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="fl-csv-bench-") as tmpdir:
        tmp = Path(tmpdir)
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "csv-bench-secret",
            "DEMO_MODE": "0",
            "TASK_ALWAYS_EAGER": "1",
            "SCHEDULER_ENABLED": "0",
        }
        os.environ.update(env)
        t0 = time.perf_counter()
        path, customers, rows = write_files(tmp, args.entity, args.mb)
        size_mb = path.stat().st_size / 2**20
        print(f"generated {path.name}: {size_mb:.1f} MB, {rows} rows in {time.perf_counter() - t0:.1f} s")
        ticket_id = prepare_database(url)
        if customers is not None:
            wall, code, rss, out = run_import(args.repo, "customers", customers, env)
            print(
                f"setup: customers.csv imported in {wall:.1f} s (exit {code}, peak RSS {rss / 1024:.0f} MB)"
            )
            if code != 0:
                sys.exit(out[-2000:])

        took: list[float] = []
        stop = threading.Event()
        writer = threading.Thread(target=other_writer, args=(url, ticket_id, stop, took), daemon=True)
        writer.start()
        time.sleep(1.0)  # the writer's baseline before the import starts
        wall, code, rss, out = run_import(args.repo, args.entity, path, env)
        time.sleep(0.5)
        stop.set()
        writer.join(timeout=700)

    print("\n".join(out.splitlines()[:6]))  # the CLI's counts table (its error list follows)
    ms = sorted(t * 1000 for t in took)
    print(f"\n{args.entity}.csv {size_mb:.1f} MB on {url.split(':', 1)[0]} (importer from {args.repo})")
    print(
        f"  rows {rows}  wall {wall:.1f} s  {rows / wall:.0f} rows/s"
        f"  exit {code} (1: some rows failed, as generated)"
    )
    print(f"  importing process peak RSS {rss / 1024:.0f} MB")
    print(
        f"  other writer: {len(ms)} writes, BEGIN→COMMIT p50 {pct(ms, 0.5):.1f} ms"
        f"  p95 {pct(ms, 0.95):.1f} ms  max {ms[-1]:.1f} ms"
    )
    print(f"  machine {machine()}")


if __name__ == "__main__":
    main()
