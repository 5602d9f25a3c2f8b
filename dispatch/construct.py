"""A fast first plan: regret insertion screened with numpy, confirmed by the exact scheduler.

Each route keeps the earliest end time of every stop and the latest arrival that keeps the rest
of the route on time, so inserting a job between two stops is an O(1) test; a numpy pass tests a
job against every position of a route at once. The best route of every waiting job (and the
second best, for the regret) is kept per route and refreshed only for the route just changed.
Jobs go in by priority, then by regret; each chosen insertion is re-checked with
:func:`schedule.simulate` (breaks, parts, capacity), and parts missing from the van come from a
pickup stop at a warehouse that still holds them.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from .core import Compiled
from .schedule import RawStop, simulate

INF = np.iinfo(np.int64).max // 4
UNKNOWN = -(2**62)


class _Route:
    """One route's timing state; shared through the cache, so never changed once built."""

    __slots__ = ("k", "seq", "rows", "end", "latest", "van", "screen", "ok", "cost", "load")
    # Set by Builder._refresh and Builder.state right after construction.
    rows: np.ndarray
    end: np.ndarray
    latest: np.ndarray
    van: np.ndarray
    ok: bool
    cost: int
    load: int

    def __init__(self, k: int, seq: list[RawStop]) -> None:
        self.k, self.seq = k, seq
        self.screen: tuple[np.ndarray, np.ndarray] | None = None


def _key(k: int, seq: list[RawStop]) -> tuple[Any, ...]:
    return (k, *((s[0], s[1], tuple(sorted(s[2].items())) if len(s) > 2 else ()) for s in seq))


def construct(
    c: Compiled,
    seed: int = 0,
    routes: list[list[RawStop]] | None = None,
    jobs: list[int] | None = None,
) -> list[list[RawStop]]:
    """Insert ``jobs`` (default: all assignable) into ``routes`` (default: empty)."""
    return Builder(c).run(routes, jobs, seed)


def _top2(B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column of B [routes, jobs]: smallest and second-smallest value and their rows."""
    n = B.shape[1]
    if B.shape[0] == 1:
        zero = np.zeros(n, dtype=np.int64)
        return B[0].copy(), np.full(n, INF, dtype=np.int64), zero, zero.copy()
    two = np.argpartition(B, 1, axis=0)[:2]
    cols = np.arange(n)
    return B[two[0], cols], B[two[1], cols], two[0].astype(np.int64), two[1].astype(np.int64)


class Builder:
    """Static arrays built once per problem; :meth:`run` may be called many times."""

    def __init__(self, c: Compiled) -> None:
        self.c = c
        self.prob = c.problem
        self.T = c.matrix.duration_s
        self.C = c.arc_cost()
        # Transposed copies: "from every stop to this job" becomes a contiguous row gather.
        self.TT = np.ascontiguousarray(self.T.T)
        self.CT = np.ascontiguousarray(self.C.T)
        self.seeded = False
        self.noise = np.ones(c.n_jobs)
        self.part_names = c.parts
        pidx = {p: i for i, p in enumerate(self.part_names)}
        self.Q = np.zeros((c.n_jobs, len(pidx)), dtype=np.int64)
        for j, job in enumerate(self.prob.jobs):
            for p, q in job.parts.items():
                if p in pidx:
                    self.Q[j, pidx[p]] = q
        self.has_parts = cast(np.ndarray, self.Q.any(axis=1))
        self.detour = self._pickup_detour(np.arange(c.n_jobs))
        self.wh_left = [dict(w.stock) for w in self.prob.warehouses]
        self.assign = np.flatnonzero(c.allowed.any(axis=0))
        self.apos = np.full(c.n_jobs, -1, dtype=np.int64)
        self.apos[self.assign] = np.arange(len(self.assign))
        self.cache: dict[tuple[Any, ...], _Route] = {}
        self.demand = np.array([j.demand for j in self.prob.jobs], dtype=np.int64)
        self.cap = np.array(
            [e.capacity if e.capacity is not None else INF for e in self.prob.engineers],
            dtype=np.int64,
        )
        # Without breaks or time-dependent costs the screening is exact, and a route's cost is
        # its travel: no need to replay the schedule for every candidate.
        s = self.prob.settings
        self.simple = (
            not any(e.breaks for e in self.prob.engineers)
            and not any(
                (j.sla_deadline is not None and s.lateness_cost_per_s > 0)
                or (j.appointment is not None and (s.disruption_cost_per_s or s.promise_weight))
                for j in self.prob.jobs
            )
            and not (s.overtime_allowed and s.overtime_cost_per_s > 0)
            and not c.urgent.any()
        )
        self.max_w = max(len(w) for w in c.windows) if c.windows else 1
        self.win_a = np.full((c.n_jobs, self.max_w), INF, dtype=np.int64)
        self.win_b = np.full((c.n_jobs, self.max_w), -1, dtype=np.int64)
        for j, ws in enumerate(c.windows):
            for m, (a, b) in enumerate(ws):
                self.win_a[j, m], self.win_b[j, m] = a, b

    # ----------------------------------------------------------------- route bookkeeping
    def _row(self, stop: RawStop) -> int:
        c = self.c
        return int(c.rows.job[stop[1]] if stop[0] == "job" else c.rows.warehouse[stop[1]])

    def _refresh(self, r: _Route) -> None:
        """Earliest end and latest arrival per node (0 = leaving home, last = home), whether
        the route keeps every window and the shift, its travel cost and load."""
        c = self.c
        k = r.k
        rows = np.array(
            [int(c.rows.start[k])] + [self._row(s) for s in r.seq] + [int(c.rows.end[k])],
            dtype=np.int64,
        )
        n = len(rows)
        legs = self.T[rows[:-1], rows[1:]].tolist()
        wins = [self._wins(st) for st in r.seq]
        service = [self._service(st) for st in r.seq]
        end = [0] * n
        end[0] = t = int(c.shift_start[k])
        ok = True
        for i in range(1, n - 1):
            arr = t + legs[i - 1]
            start = None
            for a, b in wins[i - 1]:
                if arr <= b:
                    start = arr if arr > a else a
                    break
            if start is None:
                ok, start = False, arr
            end[i] = t = start + service[i - 1]
        ok = ok and t + legs[n - 2] <= c.shift_end[k]
        latest = [0] * n
        latest[n - 1] = lim_next = int(c.shift_end[k])
        for i in range(n - 2, 0, -1):
            lim = lim_next - legs[i] - service[i - 1]
            best = -INF
            for a, b in wins[i - 1]:
                v = b if b < lim else lim
                if v >= a and v > best:
                    best = v
            latest[i] = lim_next = best
        r.rows = rows
        r.end = np.array(end, dtype=np.int64)
        r.latest = np.array(latest, dtype=np.int64)
        r.ok = ok
        r.cost = int(self.C[rows[:-1], rows[1:]].sum()) + (int(c.fixed_cost[k]) if r.seq else 0)
        r.load = int(sum(self.demand[s[1]] for s in r.seq if s[0] == "job"))

    def _wins(self, st: RawStop) -> tuple[tuple[int, int], ...]:
        if st[0] == "job":
            return self.c.windows[st[1]]
        return (self.prob.warehouses[st[1]].open,)

    def _service(self, st: RawStop) -> int:
        if st[0] == "job":
            return int(self.c.dur[st[1]])
        return self.prob.warehouses[st[1]].pickup_s

    def _van_left(self, r: _Route) -> np.ndarray:
        eng = self.prob.engineers[r.k]
        left = np.array([eng.stock.get(p, 0) for p in self.part_names], dtype=np.int64)
        for st in r.seq:
            if st[0] == "job":
                left -= self.Q[st[1]]
            else:
                for i, p in enumerate(self.part_names):
                    left[i] += st[2].get(p, 0)
        return left

    # ----------------------------------------------------------------- screening
    def state(self, k: int, seq: list[RawStop]) -> _Route:
        key = _key(k, seq)
        r = self.cache.get(key)
        if r is None:
            if len(self.cache) > 3000:
                self.cache.clear()
            r = _Route(k, seq)
            self._refresh(r)
            r.van = self._van_left(r)
            self.cache[key] = r
        return r

    def _screen(self, r: _Route, jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cheapest insertion cost and position of each job in route r (INF: none)."""
        # Results are kept per route state and computed only for jobs not asked about before.
        if r.screen is None:
            n = len(self.assign)
            r.screen = (np.full(n, UNKNOWN, dtype=np.int64), np.zeros(n, dtype=np.int64))
        at = self.apos[jobs]
        todo = at[r.screen[0][at] == UNKNOWN]
        if len(todo):
            b, p = self._screen_raw(r, self.assign[todo])
            r.screen[0][todo], r.screen[1][todo] = b, p
        best, pos = r.screen[0][at], r.screen[1][at]
        if self.seeded:
            best = np.where(best < INF, (best * self.noise[jobs]).astype(np.int64), INF)
        return best, pos

    def _screen_all(self, rs: list[_Route], jobs: np.ndarray) -> None:
        """Screen jobs against several routes in one numpy pass over all their positions (one
        call per route would cost more in call overhead than in arithmetic); results go into
        each route's cache."""
        c = self.c
        K = len(rs)
        prev = np.concatenate([r.rows[:-1] for r in rs])
        nxt = np.concatenate([r.rows[1:] for r in rs])
        end = np.concatenate([r.end[:-1] for r in rs])
        latest = np.concatenate([r.latest[1:] for r in rs])
        lens = np.array([len(r.rows) - 1 for r in rs], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
        owner = np.repeat(np.arange(K), lens)
        jr = c.rows.job[jobs][:, None]
        arr = end[None, :] + self.TT[jr, prev[None, :]]
        if self.max_w == 1:
            start = np.maximum(arr, self.win_a[jobs, :1])
            ok = start <= self.win_b[jobs, :1]
        else:
            start = np.full(arr.shape, INF, dtype=np.int64)
            for m in range(self.max_w):
                st = np.maximum(arr, self.win_a[jobs, m : m + 1])
                start = np.where((start == INF) & (st <= self.win_b[jobs, m : m + 1]), st, start)
            ok = start < INF
        back = start + c.dur[jobs][:, None] + self.T[jr, nxt[None, :]]
        ok &= back <= latest[None, :]
        loads = np.array([r.load for r in rs], dtype=np.int64)
        ks = np.array([r.k for r in rs], dtype=np.int64)
        fits = c.allowed[np.ix_(ks, jobs)].T & (
            loads[None, :] + self.demand[jobs][:, None] <= self.cap[ks][None, :]
        )
        ok &= fits[:, owner]
        delta = self.CT[jr, prev[None, :]] + self.C[jr, nxt[None, :]] - self.C[prev, nxt][None, :]
        delta = np.where(ok, delta, INF)
        best = np.minimum.reduceat(delta, offsets, axis=1)  # [J, K]
        idx = np.arange(delta.shape[1])
        first = np.where(delta == best[:, owner], idx[None, :], delta.shape[1])
        pos = np.minimum.reduceat(first, offsets, axis=1) - offsets[None, :]
        # The first job on an unused route pays the engineer's call-out cost.
        call_out = np.array([0 if r.seq else int(c.fixed_cost[r.k]) for r in rs], dtype=np.int64)
        if call_out.any():
            best = np.where(best < INF, best + call_out[None, :], best)
        if self.Q.shape[1] and self.has_parts[jobs].any():
            vans = np.stack([r.van for r in rs])  # [K, P]
            short = (self.Q[jobs][:, None, :] > vans[None, :, :]).any(axis=2)  # [J, K]
            extra = self.detour[jobs][:, None]
            best = np.where(short & (best < INF), best + extra, best)
        for k, r in enumerate(rs):  # remember for the insertion loop and the next run
            if r.screen is None:
                n = len(self.assign)
                r.screen = (np.full(n, UNKNOWN, dtype=np.int64), np.zeros(n, dtype=np.int64))
            at = self.apos[jobs]
            r.screen[0][at], r.screen[1][at] = best[:, k], pos[:, k]

    def _screen_raw(self, r: _Route, jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.c
        n = len(jobs)
        best = np.full(n, INF, dtype=np.int64)
        pos = np.zeros(n, dtype=np.int64)
        fits = c.allowed[r.k, jobs] & (r.load + self.demand[jobs] <= self.cap[r.k])
        sel = np.flatnonzero(fits)
        if len(sel) == 0:
            return best, pos
        js = jobs[sel]
        rows, end, latest = r.rows, r.end, r.latest
        prev, nxt = rows[:-1], rows[1:]
        jr = c.rows.job[js][:, None]
        arr = end[:-1][None, :] + self.TT[jr, prev[None, :]]  # [J, P]: arrival at the job
        if self.max_w == 1:
            start = np.maximum(arr, self.win_a[js, :1])
            ok = start <= self.win_b[js, :1]
        else:
            start = np.full(arr.shape, INF, dtype=np.int64)
            for m in range(self.max_w):
                st = np.maximum(arr, self.win_a[js, m : m + 1])
                start = np.where((start == INF) & (st <= self.win_b[js, m : m + 1]), st, start)
            ok = start < INF
        back = start + c.dur[js][:, None] + self.T[jr, nxt[None, :]]
        ok &= back <= latest[1:][None, :]
        delta = self.CT[jr, prev[None, :]] + self.C[jr, nxt[None, :]] - self.C[prev, nxt][None, :]
        delta = np.where(ok, delta, INF)
        p = delta.argmin(axis=1)
        b = delta[np.arange(len(js)), p]
        if not r.seq and c.fixed_cost[r.k]:
            b = np.where(b < INF, b + int(c.fixed_cost[r.k]), b)  # the call-out
        if self.Q.shape[1] and self.has_parts[js].any():
            short = (self.Q[js] > r.van[None, :]).any(axis=1)
            if short.any():
                # Parts missing from the van: possible only with a pickup, at the cost of a
                # detour to the nearest warehouse (confirmed exactly when chosen).
                b[short] = np.where(b[short] < INF, b[short] + self.detour[js[short]], INF)
        best[sel], pos[sel] = b, p
        return best, pos

    def _pickup_detour(self, jobs: np.ndarray) -> np.ndarray:
        c = self.c
        if not self.prob.warehouses:
            return np.full(len(jobs), INF // 2, dtype=np.int64)
        wr = c.rows.warehouse
        jr = c.rows.job[jobs]
        detour: np.ndarray = (self.C[np.ix_(wr, jr)] + self.C[np.ix_(jr, wr)].T).min(axis=0)
        return detour

    # ----------------------------------------------------------------- confirmation
    def _try(self, r: _Route, j: int, pos: int) -> list[RawStop] | None:
        """The route with job j at position pos (plus a pickup if needed), if truly feasible."""
        k = r.k
        base = r.seq[:pos] + [("job", j)] + r.seq[pos:]
        need = self._missing(r, j)
        if not need:
            if self.simple and not self.has_parts[j]:
                return base  # the screening was exact
            return base if simulate(self.c, k, base).ok else None
        options = self._pickup_options(r, j, pos, need)
        best, best_cost = None, None
        for seq in options:
            sim = simulate(self.c, k, seq)
            if sim.ok and (best_cost is None or sim.cost < best_cost):
                best, best_cost = seq, sim.cost
        return best

    def _missing(self, r: _Route, j: int) -> dict[str, int]:
        job = self.prob.jobs[j]
        if not job.parts:
            return {}
        left = r.van
        out = {}
        for i, p in enumerate(self.part_names):
            q = job.parts.get(p, 0)
            if q > left[i]:
                out[p] = int(q - max(left[i], 0))
        return out

    def _pickup_options(self, r: _Route, j: int, pos: int, need: dict[str, int]) -> list[list[RawStop]]:
        out: list[list[RawStop]] = []
        seq = r.seq
        for w, left in enumerate(self.wh_left):
            if any(left.get(p, 0) < q for p, q in need.items()):
                continue
            # One visit per warehouse and route (the model has one pickup node per pair): top
            # up the visit, moving it forward to just before the job when it comes later...
            have = next((i for i, st in enumerate(seq) if st[0] == "pickup" and st[1] == w), None)
            if have is not None:
                parts = dict(seq[have][2])
                for p, q in need.items():
                    parts[p] = parts.get(p, 0) + q
                rest = seq[:have] + seq[have + 1 :]
                at = min(have, pos)
                at_job = pos if have >= pos else pos - 1
                for a in sorted({0, at}):
                    new = rest[:a] + [("pickup", w, parts)] + rest[a:at_job]
                    out.append(new + [("job", j)] + rest[at_job:])
                continue
            # ...or add a visit first thing in the morning, or right before the job.
            for at in sorted({0, pos}):
                new = seq[:at] + [("pickup", w, dict(need))] + seq[at:pos]
                out.append(new + [("job", j)] + seq[pos:])
        return out

    def _commit(self, r: _Route, new_seq: list[RawStop]) -> _Route:
        before: dict[tuple[int, str], int] = {}
        for st in r.seq:
            if st[0] == "pickup":
                for p, q in st[2].items():
                    before[(st[1], p)] = before.get((st[1], p), 0) + q
        after: dict[tuple[int, str], int] = {}
        for st in new_seq:
            if st[0] == "pickup":
                for p, q in st[2].items():
                    after[(st[1], p)] = after.get((st[1], p), 0) + q
        for key in set(before) | set(after):
            w, p = key
            self.wh_left[w][p] = self.wh_left[w].get(p, 0) - after.get(key, 0) + before.get(key, 0)
        return self.state(r.k, new_seq)

    # ----------------------------------------------------------------- main loop
    def run(
        self,
        routes: list[list[RawStop]] | None,
        jobs: list[int] | None,
        seed: int = 0,
        greedy_order: np.ndarray | None = None,
    ) -> list[list[RawStop]]:
        """Insert by regret, or (``greedy_order``: a rank per job) cheapest-first in that
        order, SISR-style."""
        c = self.c
        # A seed-dependent nudge (under 1 %) breaks ties differently per seed.
        self.seeded = seed != 0
        if self.seeded:
            self.noise = 1.0 + np.random.default_rng(seed).random(c.n_jobs) * 0.01
        self.wh_left = [dict(w.stock) for w in self.prob.warehouses]
        K = c.n_vehicles
        empty = [_Route(k, []) for k in range(K)]
        rs = [self._commit(empty[k], list(routes[k]) if routes else []) for k in range(K)]
        if jobs is None:
            jobs = [j for j in range(c.n_jobs) if c.allowed[:, j].any()]
        todo = np.array(sorted(set(jobs)), dtype=np.int64)
        if len(todo) == 0:
            return [r.seq for r in rs]
        J = len(todo)
        # Routes changed since the last run need every job screened; the others only the
        # jobs that were not waiting then (usually the few just removed).
        at = self.apos[todo]
        fresh = [r for r in rs if r.screen is None]
        if fresh:
            self._screen_all(fresh, todo)
        # Every route has been screened by now (the fresh ones just above).
        stale = [r for r in rs if r.screen is not None and (r.screen[0][at] == UNKNOWN).any()]
        if stale:
            missing = np.zeros(len(self.assign), dtype=bool)
            for r in stale:
                assert r.screen is not None
                missing[at] |= r.screen[0][at] == UNKNOWN
            self._screen_all(stale, self.assign[missing])
        B = np.full((K, J), INF, dtype=np.int64)
        POS = np.zeros((K, J), dtype=np.int64)
        for r in rs:
            B[r.k], POS[r.k] = self._screen(r, todo)
        waiting = np.ones(J, dtype=bool)
        weight = c.penalty[todo]
        # Best and second-best route per job, kept up to date column by column.
        best1, best2, k1, k2 = _top2(B)
        while True:
            cand = waiting & (best1 < INF)
            if not cand.any():
                break
            regret = np.where(best2 >= INF, INF, best2 - best1)
            # Highest penalty first; then the job that loses most if it waits; then cheapest.
            idx = np.flatnonzero(cand)
            if greedy_order is not None:
                order = np.lexsort((greedy_order[todo[idx]], -weight[idx]))
            else:
                order = np.lexsort((best1[idx], -regret[idx], -weight[idx]))
            i = int(idx[order[0]])
            j = int(todo[i])
            k = int(k1[i])
            r = rs[k]
            new_seq = self._try(r, j, int(POS[k, i]))
            if new_seq is None:
                B[k, i] = INF  # screening was optimistic (breaks, parts, pickups): not here
                col = np.array([i])
                best1[col], best2[col], k1[col], k2[col] = _top2(B[:, col])
                continue
            r = rs[k] = self._commit(r, new_seq)
            waiting[i] = False
            live = np.flatnonzero(waiting)
            b, p = self._screen(r, todo[live])
            B[k, live], POS[k, live] = b, p
            hit = (k1[live] == k) | (k2[live] == k)
            redo = live[hit]
            if len(redo):
                best1[redo], best2[redo], k1[redo], k2[redo] = _top2(B[:, redo])
            rest, nb = live[~hit], b[~hit]
            up1 = nb < best1[rest]
            up2 = ~up1 & (nb < best2[rest])
            r1, r2 = rest[up1], rest[up2]
            best2[r1], k2[r1] = best1[r1], k1[r1]
            best1[r1], k1[r1] = nb[up1], k
            best2[r2], k2[r2] = nb[up2], k
        return [r.seq for r in rs]
