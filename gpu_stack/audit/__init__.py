"""The audit path: plain Python over the registry, kept simple on purpose.

Enters: a `Registry` and a `Question` (presets, assignments, selection).
Leaves: report models (`gpu_stack.reports`): forward resolution with every
hop (`resolver`, `report`), the dependency graph and cones (`graph`), root
debt (`root_debt`), counts (`stats`), registry checks (`verify`) and the
description of one ID (`explain`).

Every compiled answer of the solver is checked against this path in tests.
"""
