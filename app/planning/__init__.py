"""The bridge to the dispatch engine: rows in, dispatch.Problem out to the solver, Plan back into rows."""
