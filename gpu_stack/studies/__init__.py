"""Studies over the compiled model: many points of one question, in-process or on Dask.

* `sampling` — uncertain inputs drawn (MC, Latin hypercube, Sobol; Gaussian-copula correlation).
* `batch` — a compiled function evaluated over a batch of points (chunks through CasADi `map`,
  in this process or on a Dask cluster).
* `uncertainty` — samples turned into statistics, Sobol indices and elasticities.
* `sweep` — inputs varied over a grid or a Latin hypercube; forward in one batch, or a problem
  re-solved at every point.
* `pareto` — the trade-off front of two objectives by ε-constraint re-solves.
* `plots` — matplotlib pictures of all of these and of the sensitivity elasticities.
* `optional` — clear messages when an optional package is missing.
"""
