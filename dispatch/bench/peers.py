"""VRPTW peers: VROOM (pyvroom), PyVRP and an out-of-the-box OR-Tools model.

Each runner takes the same scaled integer data (``SolomonInstance.scaled_matrix``) and a time
limit, and returns routes as customer numbers (depot excluded), or None when it found no plan that
serves every customer. pyvroom and pyvrp are bench-only extras, imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from dispatch.bench.solomon import SCALE, SolomonInstance

Routes = list[list[int]]
VrptwRunner = Callable[[SolomonInstance, float], Routes | None]

# Threads handed to VROOM: the benchmark machine has two cores and solvers run one at a time.
VROOM_THREADS = 2
VROOM_EXPLORATION = 5


def run_vroom(inst: SolomonInstance, time_limit: float) -> Routes | None:
    import numpy as np
    import vroom

    matrix = np.array(inst.scaled_matrix(), dtype=np.uint32)
    problem = vroom.Input()
    problem.set_durations_matrix("car", matrix)
    horizon = vroom.TimeWindow(inst.ready[0] * SCALE, inst.due[0] * SCALE)
    for k in range(inst.fleet):
        problem.add_vehicle(
            vroom.Vehicle(id=k, start=0, end=0, capacity=[inst.capacity], time_window=horizon)
        )
    problem.add_job(
        [
            vroom.Job(
                id=c,
                location=c,
                default_service=inst.service[c] * SCALE,
                delivery=[inst.demand[c]],
                time_windows=[vroom.TimeWindow(inst.ready[c] * SCALE, inst.due[c] * SCALE)],
            )
            for c in range(1, inst.customers + 1)
        ]
    )
    solution = problem.solve(
        exploration_level=VROOM_EXPLORATION,
        nb_threads=VROOM_THREADS,
        timeout=timedelta(seconds=time_limit),
    ).to_dict()
    if solution.get("unassigned"):
        return None
    return [
        [int(step["id"]) for step in route["steps"] if step["type"] == "job"] for route in solution["routes"]
    ]


def run_pyvrp(inst: SolomonInstance, time_limit: float) -> Routes | None:
    import pyvrp
    from pyvrp.stop import MaxRuntime

    matrix = inst.scaled_matrix()
    model = pyvrp.Model()
    locations = [model.add_location(x, y) for x, y in inst.xy]
    depot = model.add_depot(locations[0], tw_early=inst.ready[0] * SCALE, tw_late=inst.due[0] * SCALE)
    model.add_vehicle_type(
        num_available=inst.fleet,
        capacity=[inst.capacity],
        start_depot=depot,
        end_depot=depot,
        tw_early=inst.ready[0] * SCALE,
        tw_late=inst.due[0] * SCALE,
    )
    for c in range(1, inst.customers + 1):
        model.add_client(
            locations[c],
            delivery=[inst.demand[c]],
            service_duration=inst.service[c] * SCALE,
            tw_early=inst.ready[c] * SCALE,
            tw_late=inst.due[c] * SCALE,
        )
    for a, row in enumerate(matrix):
        for b, d in enumerate(row):
            if a != b:
                model.add_edge(locations[a], locations[b], distance=d, duration=d)
    result = model.solve(stop=MaxRuntime(time_limit), display=False)
    if not result.is_feasible() or not result.best.is_complete():
        return None
    # Clients are numbered from 0 in the order added: customer number = client index + 1.
    return [
        [act.idx + 1 for act in route.schedule() if act.type == pyvrp.ActivityType.CLIENT]
        for route in result.best.routes()
    ]


def run_ortools_baseline(inst: SolomonInstance, time_limit: float) -> Routes | None:
    """Plain RoutingModel: PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, one thread, no tuning."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    matrix = inst.scaled_matrix()
    service = [s * SCALE for s in inst.service]
    n = len(matrix)
    manager = pywrapcp.RoutingIndexManager(n, inst.fleet, 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        metres: int = matrix[manager.IndexToNode(i)][manager.IndexToNode(j)]  # typed: OR-Tools is not
        return metres

    def travel_time(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        seconds: int = service[a] + matrix[a][b]
        return seconds

    def demand(i: int) -> int:
        units: int = inst.demand[manager.IndexToNode(i)]
        return units

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    horizon = inst.due[0] * SCALE
    routing.AddDimension(routing.RegisterTransitCallback(travel_time), horizon, horizon, False, "T")
    time_dim = routing.GetDimensionOrDie("T")
    for c in range(1, n):
        time_dim.CumulVar(manager.NodeToIndex(c)).SetRange(inst.ready[c] * SCALE, inst.due[c] * SCALE)
    for v in range(inst.fleet):
        time_dim.CumulVar(routing.Start(v)).SetRange(inst.ready[0] * SCALE, horizon)
        time_dim.CumulVar(routing.End(v)).SetRange(inst.ready[0] * SCALE, horizon)
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitCallback(demand), 0, [inst.capacity] * inst.fleet, True, "Q"
    )
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(time_limit * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return None
    routes: Routes = []
    for v in range(inst.fleet):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    return routes


VRPTW_PEERS: dict[str, VrptwRunner] = {
    "vroom": run_vroom,
    "pyvrp": run_pyvrp,
    "ortools": run_ortools_baseline,
}
