"""Studies over the compiled model: many points at once (uncertainty; sweeps), in-process or on Dask.

`sampling` draws uncertain inputs, `batch` evaluates a compiled function over
a batch of points (chunks through CasADi `map`, in this process or on a Dask
cluster), `uncertainty` turns the samples into statistics and Sobol indices,
`plots` draws them (matplotlib, imported only when a plot is asked for).
"""
