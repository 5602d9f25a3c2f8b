"""Insights: the service manager's KPIs over desk, field and feedback rows.

The formulas are the `surveys` library's (definitions: docs/kpis.md); this domain only loads rows
(`records`), turns them into the library's plain records, slices them by local period and key
(`service`) and serves them (`api`, and the dashboard page in app/web).
"""
