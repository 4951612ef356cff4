"""Studies: many points of one question — sweeps, trade-off fronts, their pictures.

* `sweep` — inputs varied over a grid or a Latin hypercube; forward through the
  compiled model's batch evaluation, or a problem re-solved at every point.
* `pareto` — the trade-off front of two objectives by ε-constraint re-solves.
* `plots` — matplotlib pictures of these and of the sensitivity elasticities.
"""
