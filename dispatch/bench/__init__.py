"""Benchmarks of the dispatch engine against peers (VROOM, PyVRP, OR-Tools out of the box).

Run with ``python -m dispatch.bench {vrptw,fsr,scale,replan}``. Peers and matplotlib are bench-only
extras, imported lazily inside the commands; nothing here is imported by ``dispatch`` itself.
"""
