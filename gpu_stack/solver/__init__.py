"""The solver: structural analysis → CasADi.

Enters: a `Registry` and a `Problem` (assignments, targets, free variables,
objective, constraints).
Leaves: `SolveResult` and `SensitivityReport` models, and the compiled
`Model` (`gpu_stack.Model`) that evaluates, inverts and optimizes.

Modules: `structure` (matching, Dulmage–Mendelsohn, block order),
`symbolic` (expression trees → CasADi), `formulation` (a question's cone,
unknowns, equations, parameters), `blocks` (the block-triangular Newton
solve), `nlp` (IPOPT/bonmin), `solve` (the entry point and status words),
`sensitivity` (AD elasticities), `cache` (compiled functions kept across
calls and processes), `fastcall` (calling them without per-call conversion),
`silence` (C-level solver output kept off the terminal), `compiled` (the
public `Model`), `calibrate` (least squares of inputs to observations
through `Model`, with Jacobian intervals).
"""
