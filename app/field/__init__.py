"""Field service: work orders and visits, engineers, parts and stock."""
