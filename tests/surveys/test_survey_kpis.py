"""Every KPI formula against numbers worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from surveys import Answer, kpis
from surveys.kpis import ShiftDay, SlaClock, TicketFacts, VisitFacts

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def test_csat_is_the_share_of_4_and_5() -> None:
    # 10 ratings, 7 of them 4–5 → 70 %. Wilson 7/10: centre (0.7 + 0.192073)/1.384146 = 0.644491,
    # half 1.959964·sqrt(0.021 + 0.0096036)/1.384146 = 0.247715 → [39.68, 89.22] %.
    ratings = [5, 5, 5, 4, 4, 4, 4, 3, 2, 1]
    answers = [Answer(csat=r) for r in ratings] + [Answer(nps=9)]  # no CSAT: not in n
    f = kpis.csat(answers)
    assert (f.value, f.n, f.unit) == (70.0, 10, "percent")
    assert f.ci_low == pytest.approx(39.678, abs=0.01)
    assert f.ci_high == pytest.approx(89.221, abs=0.01)
    # Mean rating: 37 / 10.
    assert kpis.csat_mean(answers).value == pytest.approx(3.7)
    assert kpis.csat([]).value is None and kpis.csat([]).n == 0


def test_nps_promoters_minus_detractors() -> None:
    # Promoters 10, 9, 9, 10, 9 = 5; passives 8, 7; detractors 6, 3, 0 = 3; n = 10 → 50 − 30 = 20.
    # var = (0.5 + 0.3 − 0.2²)/10 = 0.076, half = 1.959964·0.275681 = 0.540325 → 20 ± 54.03.
    f = kpis.nps([Answer(nps=s) for s in (10, 9, 9, 8, 7, 6, 3, 10, 0, 9)])
    assert (f.value, f.n, f.unit) == (pytest.approx(20.0), 10, "points")
    assert f.ci_low == pytest.approx(-34.03, abs=0.01)
    assert f.ci_high == pytest.approx(74.03, abs=0.01)
    assert kpis.nps([Answer(nps=10)] * 3).value == 100.0


def test_ces_mean_with_t_interval() -> None:
    # [7, 6, 5, 6] → mean 6, se 0.408248, t(3) 3.182446 → 6 ± 1.29923.
    f = kpis.ces([Answer(ces=c) for c in (7, 6, 5, 6)] + [Answer(csat=5)])
    assert (f.value, f.n) == (6.0, 4)
    assert f.ci_low == pytest.approx(4.70077, abs=1e-4)


def test_response_solved_and_detractor_rates() -> None:
    assert kpis.response_rate(sent=100, answered=30).value == 30.0
    assert kpis.response_rate(sent=100, answered=30).n == 100
    assert kpis.response_rate(sent=0, answered=0).value is None
    with pytest.raises(ValueError):
        kpis.response_rate(sent=3, answered=4)
    said = [Answer(solved=True), Answer(solved=True), Answer(solved=False), Answer(csat=4)]
    assert (kpis.solved_rate(said).value, kpis.solved_rate(said).n) == (pytest.approx(66.667, abs=1e-3), 3)
    # Detractors: the "not solved" one and the NPS 6 one, of 4 answers → 50 %.
    mixed = [Answer(solved=False), Answer(nps=6), Answer(nps=7), Answer(csat=3)]
    assert kpis.detractor_rate(mixed).value == 50.0


def _ticket(i: int, **kw: object) -> TicketFacts:
    return TicketFacts(id=f"T{i}", opened_at=T, **kw)  # type: ignore[arg-type]


def test_duration_median_and_p90() -> None:
    # First responses after 10, 20, 30, 40, 100 min; median 30; p90: h = 3.6 → 40 + 0.6·60 = 76.
    tickets = [_ticket(i, first_response_at=T + m * M) for i, m in enumerate((10, 20, 30, 40, 100))]
    tickets.append(_ticket(9))  # no response yet: not in n
    d = kpis.first_response_time(tickets)
    assert (d.median_min, d.p90_min, d.n) == (30, pytest.approx(76.0), 5)
    assert kpis.time_to_arrive(tickets).n == 0
    assert kpis.time_to_arrive(tickets).median_min is None


def _mon_fri_8_17_utc(_t: TicketFacts, start: datetime, end: datetime) -> float:
    """A test calendar: Monday–Friday 08:00–17:00 UTC, as the app's SLA calendar code would supply."""
    total = 0.0
    day = start.date()
    while day <= end.date():
        if day.weekday() < 5:
            lo = max(start, datetime(day.year, day.month, day.day, 8, tzinfo=UTC))
            hi = min(end, datetime(day.year, day.month, day.day, 17, tzinfo=UTC))
            total += max(0.0, (hi - lo).total_seconds())
        day += D
    return total


def test_calendar_and_business_time() -> None:
    # Opened Friday 16:00, resolved Monday 09:00: 65 h of calendar time, 2 h of business time
    # (Fri 16–17 and Mon 08–09); arrival Friday 16:30 → 30 min either way.
    fri = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    t = TicketFacts("T1", opened_at=fri, arrived_at=fri + 30 * M, resolved_at=fri + 65 * H)
    assert kpis.time_to_resolve([t]).median_min == 65 * 60
    assert kpis.time_to_resolve([t], _mon_fri_8_17_utc).median_min == 120
    assert kpis.time_to_arrive([t], _mon_fri_8_17_utc).median_min == 30


def test_an_event_before_the_opening_is_left_out_by_id() -> None:
    # One ticket resolved an hour before it was opened among good ones: the figure is the good
    # ones' (30 and 90 min: median 60, n 2), the bad one's id comes back, nothing is raised and
    # nothing is counted as 0 or −60 min; the calendar callback never sees the reversed span.
    good = [_ticket(1, resolved_at=T + 30 * M), _ticket(2, resolved_at=T + 90 * M)]
    bad = _ticket(3, first_response_at=T - 5 * M, arrived_at=T - M, resolved_at=T - H)
    seen: list[tuple[datetime, datetime]] = []

    def business(_t: TicketFacts, start: datetime, end: datetime) -> float:
        seen.append((start, end))
        return (end - start).total_seconds()

    for business_s in (None, business):
        d = kpis.time_to_resolve([good[0], bad, good[1]], business_s)
        assert (d.median_min, d.p90_min, d.n, d.skipped) == (60.0, 84.0, 2, ("T3",))
    assert all(start <= end for start, end in seen)
    assert kpis.first_response_time([bad]) == kpis.Durations(None, None, 0, ("T3",))
    assert kpis.time_to_arrive([bad, *good]).skipped == ("T3",)
    assert kpis.time_to_resolve(good).skipped == ()
    assert kpis.time_to_resolve([bad]).as_dict() == {
        "median_min": None,
        "p90_min": None,
        "n": 0,
        "skipped": ["T3"],
    }
    # The rule the app applies to its own lists (drill-down, per-day rows), from the library.
    assert kpis.before_opening(bad, bad.resolved_at)
    assert not kpis.before_opening(bad, None)
    assert not kpis.before_opening(good[0], T)  # at the opening itself: a duration of 0, counted


def test_first_contact_resolution_and_reopen_rate() -> None:
    done = T + H
    tickets = [
        _ticket(1, resolved_at=done, contacts_to_resolve=1),  # FCR
        _ticket(2, resolved_at=done, contacts_to_resolve=2),  # needed a call back
        _ticket(3, resolved_at=done, contacts_to_resolve=1, visits=1),  # an engineer went
        _ticket(4, resolved_at=done, contacts_to_resolve=1, reopened=True),  # did not hold
        _ticket(5, contacts_to_resolve=1),  # still open: not in n
    ]
    # 1 of the 4 resolved → 25 %; reopened 1 of 4 resolved → 25 %.
    fcr = kpis.first_contact_resolution(tickets)
    assert (fcr.value, fcr.n) == (25.0, 4)
    assert (kpis.reopen_rate(tickets).value, kpis.reopen_rate(tickets).n) == (25.0, 4)


def test_sla_attainment_per_metric() -> None:
    as_of = T.replace(hour=12)
    ten = T.replace(hour=10)
    clocks = [
        SlaClock("A", "first_response", ten, T.replace(hour=9)),  # met
        SlaClock("B", "first_response", ten, T.replace(hour=11)),  # breached
        SlaClock("C", "first_response", ten, None),  # running past due at 12:00: breached
        SlaClock("D", "first_response", T.replace(hour=14), None),  # may yet be met: not in n
        SlaClock("A", "arrival", T.replace(hour=12), T.replace(hour=12)),  # on the minute: met
    ]
    out = kpis.sla_attainment(clocks, as_of)
    assert out["first_response"].value == pytest.approx(100 / 3) and out["first_response"].n == 3
    assert (out["arrival"].value, out["arrival"].n) == (100.0, 1)
    assert "resolution" not in out


def _visit(vid: str, wo: str, target: str, arrived: datetime, completed: bool = True) -> VisitFacts:
    return VisitFacts(vid, wo, target, arrived_at=arrived, finished_at=arrived + H, completed=completed)


VISITS = [
    _visit("v1", "WO1", "X", T),  # completed first time, never back: FTF
    _visit("v2", "WO2", "Y", T, completed=False),  # part missing…
    _visit("v3", "WO2", "Y", T + 2 * D),  # …second trip of the same work order: not FTF, not a repeat
    _visit("v4", "WO3", "Z", T + D),  # completed, but…
    _visit("v5", "WO4", "Z", T + 10 * D),  # …back 9 days later: WO3 not FTF; v5 is a repeat visit
    _visit("v6", "WO5", "W", T),  # completed…
    _visit("v7", "WO6", "W", T + 40 * D),  # …next visit 40 days later: outside 30 days, no repeat
]


def test_first_time_fix() -> None:
    # Completed work orders: WO1 yes, WO2 no, WO3 no, WO4 yes, WO5 yes, WO6 yes → 4 / 6.
    f = kpis.first_time_fix(VISITS)
    assert (f.value, f.n) == (pytest.approx(200 / 3), 6)
    # As of day 45, WO6 (finished day 40) cannot be judged for 30 days yet → 3 / 5.
    f45 = kpis.first_time_fix(VISITS, as_of=T + 45 * D)
    assert (f45.value, f45.n) == (60.0, 5)


def test_repeat_visit_rate() -> None:
    # v5 is the one repeat of 7 visits made.
    assert kpis.repeat_visit_ids(VISITS) == {"v5"}
    r = kpis.repeat_visit_rate(VISITS)
    assert (r.value, r.n) == (pytest.approx(100 / 7), 7)
    # With a 45-day return window v7 also counts as a return to W.
    assert kpis.repeat_visit_ids(VISITS, window=45 * D) == {"v5", "v7"}


def test_on_time_arrival_inside_the_promised_window() -> None:
    lo, hi = T, T + 2 * H  # promised 09:00–11:00

    def arrive(vid: str, at: datetime | None, window: bool = True) -> VisitFacts:
        promised = (lo, hi) if window else (None, None)
        return VisitFacts(vid, vid, vid, arrived_at=at, promised_from=promised[0], promised_to=promised[1])

    visits = [
        arrive("a", T + 30 * M),  # inside
        arrive("b", hi),  # at the end: inside
        arrive("c", T - 10 * M),  # early: not inside
        arrive("d", hi + 20 * M),  # late
        arrive("e", T, window=False),  # nothing promised: not in n
        arrive("f", None),  # not arrived: not in n
    ]
    f = kpis.on_time_arrival(visits)
    assert (f.value, f.n) == (50.0, 4)
    assert kpis.minutes_late(visits[3]) == 20.0
    assert kpis.minutes_late(visits[2]) == 0.0
    assert kpis.minutes_late(visits[4]) is None


def test_utilisation_and_travel_share() -> None:
    days = [
        ShiftDay("E1", date(2026, 3, 2), shift_min=480, on_site_min=300, travel_min=120),
        ShiftDay("E2", date(2026, 3, 2), shift_min=480, on_site_min=240, travel_min=180),
        ShiftDay("E3", date(2026, 3, 2), shift_min=0, on_site_min=0, travel_min=0),  # day off
    ]
    # On site 540 / 960 = 56.25 %; travel 300 / 960 = 31.25 %; n = 2 engineer-days.
    assert (kpis.utilisation(days).value, kpis.utilisation(days).n) == (56.25, 2)
    assert kpis.travel_share(days).value == 31.25
    assert kpis.utilisation([]).value is None
    # A day no plan covered: its travel is unknown, so it counts for utilisation only.
    unplanned = ShiftDay("E4", date(2026, 3, 2), shift_min=480, on_site_min=480, travel_min=None)
    assert (kpis.utilisation([*days, unplanned]).value, kpis.utilisation([*days, unplanned]).n) == (
        pytest.approx(100 * 1020 / 1440),
        3,
    )
    assert (kpis.travel_share([*days, unplanned]).value, kpis.travel_share([*days, unplanned]).n) == (
        31.25,
        2,
    )
    assert (kpis.travel_share([unplanned]).value, kpis.travel_share([unplanned]).n) == (None, 0)


def test_backlog_ageing_buckets() -> None:
    as_of = T + 60 * D
    ages_days = [0.5, 1, 2.5, 10, 40]
    b = kpis.backlog_ageing([as_of - a * D for a in ages_days], as_of)
    # 0.5 → <1; 1 and 2.5 → 1–3 (a bucket includes its lower edge); 10 → 7–14; 40 → ≥30.
    assert b.buckets == (("<1 d", 1), ("1–3 d", 2), ("3–7 d", 0), ("7–14 d", 1), ("14–30 d", 0), ("≥30 d", 1))
    assert (b.n, b.median_age_days, b.oldest_age_days) == (5, 2.5, 40)
    assert kpis.backlog_ageing([], as_of).median_age_days is None


def test_first_time_fix_drill_down() -> None:
    detail = kpis.first_time_fix_detail(VISITS)
    assert detail.judged == {"WO1", "WO2", "WO3", "WO4", "WO5", "WO6"}
    assert detail.fixed == {"WO1", "WO4", "WO5", "WO6"}
    assert detail.figure == kpis.first_time_fix(VISITS)


def test_duration_overrun_and_driver_facts() -> None:
    # Planned 60 min; on site 75 min is exactly 25 % over: not an overrun; 76 min is.
    def visit(on_site: int, planned: float | None = 60) -> VisitFacts:
        return VisitFacts(
            "v", "WO1", "X", arrived_at=T, finished_at=T + on_site * M, planned_duration_min=planned
        )

    assert kpis.duration_overrun(visit(75)) is False
    assert kpis.duration_overrun(visit(76)) is True
    assert kpis.duration_overrun(visit(76, planned=None)) is None

    ftf = kpis.first_time_fix_detail(VISITS)
    repeats = kpis.repeat_visit_ids(VISITS)
    late_v5 = VisitFacts(
        "v5",
        "WO4",
        "Z",
        arrived_at=T + 10 * D + 20 * M,
        finished_at=T + 10 * D + 2 * H,
        completed=True,
        promised_from=T + 10 * D - H,
        promised_to=T + 10 * D,
    )
    facts = kpis.visit_driver_facts(
        late_v5, repeat_ids=repeats, first_time_fix=ftf, part_missing=False, sla_breached=None
    )
    # 20 min late, a repeat visit, WO4 fixed first time; no plan → no overrun fact; SLA unknown → left out.
    assert facts == {"late": True, "repeat_visit": True, "first_time_fix": True, "part_missing": False}
    # v3 finished WO2 on the second trip; nothing promised → no "late" fact.
    facts_v3 = kpis.visit_driver_facts(
        VISITS[2], repeat_ids=repeats, first_time_fix=ftf, part_missing=True, sla_breached=True
    )
    assert facts_v3 == {
        "repeat_visit": False,
        "first_time_fix": False,
        "part_missing": True,
        "sla_breach": True,
    }
