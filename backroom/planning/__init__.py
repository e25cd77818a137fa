"""Planning: demand forecasts, pars, suggested orders (see docs/forecast.md)."""
