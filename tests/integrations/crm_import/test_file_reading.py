"""What a CRM CSV file may look like as Excel and other tools write it, and what is refused.

A NUL in a cell is refused for its row, as the API refuses it in any text field; a UTF-16 file
("Unicode Text") is named as such, and so is a UTF-32 file; a byte that is not UTF-8 is given by
line and column, the same sentence from the API and the CLI (and the page:
tests/web/test_import_pages.py); Excel's `sep=;` line declares the separator; a BOM written twice is
no data; the CLI tells a long import's progress on stderr, stdout keeps the report."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli as cli_module
from app.integrations.crm_import import service as crm_import
from app.models import Account
from app.platform.inputs import problem_with
from tests.integrations.crm_import.test_import import API, imported

UTF16 = "The file is UTF-16 (Excel’s “Unicode Text”), not UTF-8; save it as “CSV UTF-8” and import it again."
UTF32 = "The file is UTF-32, not UTF-8; save it as “CSV UTF-8” and import it again."


@pytest.fixture
def manager(login: Any) -> dict[str, str]:
    headers: dict[str, str] = login("manager")
    return headers


def post(client: TestClient, headers: dict[str, str], entity: str, content: bytes) -> Any:
    return client.post(f"{API}/{entity}", headers={**headers, "Content-Type": "text/csv"}, content=content)


def names(db: Session) -> dict[str | None, str]:
    db.expire_all()
    return dict(db.execute(select(Account.external_id, Account.name)).tuples().all())


def test_a_nul_in_a_cell_refuses_its_row_by_line_and_column_as_the_api_refuses_it(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    r = post(
        client,
        manager,
        "customers",
        b"external_id,name,segment\nNUL-1,a\x00b,x\nNUL-2,Huber,re\x00tail\nOK-1,Huber,\n",
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["failed"]) == (1, 2)
    assert [(e["line"], e["field"], e["message"]) for e in report["errors"]] == [
        (2, "name", "must not contain a NUL character"),
        (3, "segment", "must not contain a NUL character"),
    ]
    assert report["errors"][0]["message"] == problem_with("\x00")  # the API's own words
    assert names(db) == {"OK-1": "Huber"}  # not "a\x00b", nor a search key cut at the NUL
    # the API refuses the same byte in any text it takes, in the same words
    api = client.get("/api/v1/customers", params={"q": "a\x00b"}, headers=manager)
    assert api.status_code == 422 and "must not contain a NUL character" in api.text


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-16-be"], ids=["bom", "le-no-bom", "be-no-bom"]
)
def test_a_utf16_file_is_named_as_such_and_imports_nothing(
    client: TestClient, db: Session, manager: dict[str, str], encoding: str
) -> None:
    # Excel's "Unicode Text": UTF-16 LE with a BOM, tab-separated; other tools leave the BOM out
    content = "external_id\tname\r\nU16-1\tUnicode Kältetechnik\r\n".encode(encoding)
    r = post(client, manager, "customers", content)
    assert r.status_code == 422
    assert r.json()["detail"] == UTF16
    assert names(db) == {}


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-32", b""), ("utf-32-le", b""), ("utf-32-be", b""), ("utf-32-be", codecs.BOM_UTF32_BE)],
    ids=["bom-le", "le-no-bom", "be-no-bom", "bom-be"],
)
def test_a_utf32_file_is_named_as_such_and_imports_nothing(
    client: TestClient, db: Session, manager: dict[str, str], encoding: str, bom: bytes
) -> None:
    # its little-endian BOM (FF FE 00 00) starts with UTF-16's (FF FE): it was called UTF-16
    content = bom + "external_id,name\r\nU32-1,Unicode Kältetechnik\r\n".encode(encoding)
    r = post(client, manager, "customers", content)
    assert r.status_code == 422
    assert r.json()["detail"] == UTF32
    assert r.json()["errors"] == [{"field": "file", "message": "UTF-32, not UTF-8"}]
    assert names(db) == {}


def test_a_bad_byte_is_given_by_line_and_column_by_the_api_and_the_cli_alike(
    client: TestClient, db: Session, manager: dict[str, str], tmp_path: Path
) -> None:
    # what Excel's plain "CSV" writes in a German locale: Windows-1252
    content = "external_id;name;segment\r\nQA-1;Huber;retail\r\nQA-2;Straße Größe AG;health\r\n".encode(
        "cp1252"
    )
    said = (
        "The file is not UTF-8 text: line 3, column name has a byte that is not UTF-8 "
        "(0xDF in “Stra�e Gr��e AG”); export it as “CSV UTF-8” and import it again."
    )
    r = post(client, manager, "customers", content)
    assert r.status_code == 422 and r.json()["detail"] == said
    path = tmp_path / "kunden.csv"
    path.write_bytes(content)
    result = CliRunner().invoke(cli_module.cli, ["import", "customers", str(path)])
    assert result.exit_code == 1
    assert " ".join(result.stderr.split()) == f"error: {said}"
    # a quoted cell's own line breaks count; a header cell (or one past it) is named by number
    r = post(client, manager, "customers", b'external_id,name\nQA-3,"Zwei\nZeilen \xfc"\n')
    assert "line 3, column name has a byte" in r.json()["detail"]
    r = post(client, manager, "customers", b"external_id,n\xe4me\nQA-4,x\n")
    assert "line 1, column 2 has a byte that is not UTF-8 (0xE4 in “n�me”)" in r.json()["detail"]
    assert names(db) == {}


def test_excels_sep_line_declares_the_separator_and_lines_keep_their_numbers(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    # a separator no header would pick by itself: only the sep= line can say it
    report = imported(
        client, manager, "customers", "sep=|\r\nexternal_id|name\r\nSEP-1|Huber; Söhne, KG\r\nSEP-2|\r\n"
    )
    assert (report["created"], report["failed"]) == (1, 1)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(4, "name")]  # the file's line 4
    assert names(db) == {"SEP-1": "Huber; Söhne, KG"}
    r = post(client, manager, "customers", "\ufeffSEP=;\nexternal_id;nmae\n".encode())
    assert r.status_code == 422 and r.json()["detail"].startswith("line 2: unknown column(s) 'nmae'")
    r = post(client, manager, "customers", b'sep=,\nexternal_id,name\nSEP-3,"open\n')
    assert r.status_code == 422 and r.json()["detail"].startswith("line 3: the CSV cannot be read")


def test_a_bom_written_twice_is_no_data(client: TestClient, db: Session, manager: dict[str, str]) -> None:
    bom = "\ufeff".encode()
    report = imported(
        client, manager, "customers", (bom * 2).decode() + "external_id,name\nBB-1,double bom\n"
    )
    assert report["created"] == 1
    r = post(client, manager, "customers", bom * 3 + b"external_id;name\nBB-2;triple\n")
    assert r.status_code == 200 and r.json()["created"] == 1
    assert names(db) == {"BB-1": "double bom", "BB-2": "triple"}


def test_the_cli_prints_progress_on_stderr_and_keeps_stdout_for_the_report(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("external_id,name\n" + "".join(f"PRG-{i},Customer {i}\n" for i in range(1, 11)))
    monkeypatch.setattr(crm_import, "BATCH", 3)
    quiet = CliRunner().invoke(cli_module.cli, ["import", "customers", str(path)])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""  # a quick import says nothing on stderr
    monkeypatch.setattr(cli_module, "IMPORT_PROGRESS_S", 0.0)  # a line after every batch
    result = CliRunner().invoke(cli_module.cli, ["import", "customers", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert [line.split(" rows")[0] for line in lines] == [
        f"fieldline import: customers from customers.csv: {n}/10" for n in (3, 6, 9, 10)
    ]
    assert lines[0].startswith("fieldline import: customers from customers.csv: 3/10 rows (30 %), ")
    assert "s left" in lines[0] and lines[-1].split(", ")[0].endswith("10/10 rows (100 %)")
    # stdout: the report alone, as before (the second run found every row unchanged)
    assert "customers from customers.csv" in result.stdout and "unchanged" in result.stdout
    assert "fieldline import" not in result.stdout and "rows (" not in result.stdout


def test_progress_lines_come_at_most_every_interval_and_at_the_end(capsys: Any) -> None:
    clock = iter([100.0, 100.5, 102.1, 103.0, 104.2, 104.3])
    progress = cli_module._ImportProgress("sites from s.csv", clock=lambda: next(clock))  # at 100.0
    for done in (500, 1000, 1500, 2000, 2500):  # at 100.5, 102.1, 103.0, 104.2, 104.3
        progress(done, 2500)
    assert capsys.readouterr().err.splitlines() == [
        "fieldline import: sites from s.csv: 1000/2500 rows (40 %), 2.1 s so far, about 3 s left",
        "fieldline import: sites from s.csv: 2000/2500 rows (80 %), 4.2 s so far, about 1 s left",
        "fieldline import: sites from s.csv: 2500/2500 rows (100 %), 4.3 s so far",
    ]


def test_a_cell_over_csvs_field_limit_is_named_by_its_line(
    client: TestClient, db: Session, manager: dict[str, str], tmp_path: Path
) -> None:
    # csv's own wording was "field larger than field limit (131072)", with no line
    content = ("external_id,name\nQA-1,Huber\nQA-2," + "x" * 300_000 + "\nQA-3,Maier\n").encode()
    said = (
        "line 3: a cell is longer than 131 072 characters (a quote opened there and never closed "
        "reads the rest of the file as one cell)."
    )
    r = post(client, manager, "customers", content)
    assert r.status_code == 422 and r.json()["detail"] == said
    path = tmp_path / "kunden.csv"
    path.write_bytes(content)
    result = CliRunner().invoke(cli_module.cli, ["import", "customers", str(path)])
    assert result.exit_code == 1 and " ".join(result.stderr.split()) == f"error: {said}"
    # the likely cause: a quote left open on line 3 swallows the lines after it
    rest = "".join(f"QA-{n},Name {n}\n" for n in range(4, 20_000))
    r = post(client, manager, "customers", f'external_id,name\nQA-1,Huber\nQA-2,"Open\n{rest}'.encode())
    assert r.status_code == 422 and r.json()["detail"].startswith("line 3: a cell is longer than 131 072")
    assert names(db) == {}
