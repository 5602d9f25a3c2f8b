"""Settings every browser test shares.

An `expect(...)` gives the page 15 s, not Playwright's 5 s, to show what it waits for: most of
them wait for a form's POST and the page that answers it (a report filed runs its tasks inline,
the board's explanation re-costs the day's alternatives), and the official CI runs these tests in
two processes on a loaded two-core machine. A page that is right passes as soon as it shows it.
"""

from __future__ import annotations

try:
    from playwright.sync_api import expect
except ImportError:  # the modules skip themselves without Playwright
    pass
else:
    expect.set_options(timeout=15_000)
