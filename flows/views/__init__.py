"""Builder views, one module per area: flow pages, steps, runs, API tokens."""
