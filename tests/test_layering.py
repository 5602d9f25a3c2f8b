"""Imports flow one way: the dispatch engine knows nothing of the web app or the database."""

from __future__ import annotations

import subprocess
import sys


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_dispatch_is_a_pure_library() -> None:
    loaded = _modules_loaded_by("import dispatch")
    forbidden = {"sqlalchemy", "fastapi", "celery", "app", "knowledge_base", "surveys", "starlette"}
    assert not {m.split(".")[0] for m in loaded} & forbidden


def test_domain_packages_do_not_import_each_other() -> None:
    for pkg, other in (("knowledge_base", "surveys"), ("surveys", "knowledge_base")):
        loaded = _modules_loaded_by(f"import {pkg}")
        assert other not in {m.split(".")[0] for m in loaded}
