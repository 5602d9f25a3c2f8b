"""The `fieldline seed` command: progress bar, summary and the demo-login hint."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from app.platform.config import get_settings
from app.platform.db import unit_of_work
from app.seed.generate import AlreadySeeded, SeedResult, seed


def run_seed(
    console: Console, *, customers: int, if_empty: bool, seed_value: int, fail: Callable[[str], None]
) -> SeedResult | None:
    """Seed and print the summary; returns what was seeded (None when it failed)."""
    demo = get_settings().demo_mode
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
    )
    tasks: dict[str, TaskID] = {}
    bar = Progress(*columns, console=console, transient=False)

    def report(phase: str, done: int, total: int, rows: int) -> None:
        if not tasks:
            bar.start()  # only once there is something to show (not for --if-empty skips)
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total, rows="")
        bar.update(tasks[phase], completed=done, rows=f"{rows:,} rows")

    try:
        with unit_of_work() as session:
            result = seed(session, customers=customers, seed=seed_value, if_empty=if_empty, progress=report)
    except AlreadySeeded as exc:
        fail(str(exc))
        return None
    except (SQLAlchemyError, psycopg.Error) as exc:  # one transaction: nothing was written
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"seeding failed and was rolled back (nothing written): {message}")
        return None
    finally:
        if tasks:
            bar.stop()
    if result.skipped:
        console.print(f"{result.existing_accounts} customers exist already: nothing seeded (--if-empty)")
        return result
    table = Table(title=f"seeded in {result.seconds:.1f} s", show_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in sorted(result.counts.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{n:,}")
    table.add_row("[bold]total", f"[bold]{sum(result.counts.values()):,}")
    console.print(table)
    if demo:
        console.print(
            f"demo logins (password [bold]demo[/bold]): agent@, dispatcher@, manager@, admin@ and "
            f"engineer1@ … engineer{result.counts.get('engineer', 0)}@example.com"
        )
    else:
        console.print(
            "no users were created (not in demo mode); create the first one with "
            "[bold]fieldline create-user --role admin[/bold]"
        )
    return result
