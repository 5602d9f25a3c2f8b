"""The web process freezes what its start-up built, so full collections stop walking it.

A full collection walked ~270 000 start-up objects (about 150 ms) on whichever request set it off:
the board data's p95 was twice its p50 on every machine (docs/board.md, "Speed").
"""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.main import create_app


def test_start_up_objects_are_frozen_once_the_app_has_started() -> None:
    gc.unfreeze()  # another test's index may have frozen objects in this process
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(create_app()) as client:
            assert client.get("/api/v1/health").status_code == 200
            # most of the process: the imports' objects, not a handful
            assert gc.get_freeze_count() > 50_000, gc.get_freeze_count()
            # and a full collection no longer walks them
            assert len(gc.get_objects()) < gc.get_freeze_count()
    finally:
        gc.unfreeze()
