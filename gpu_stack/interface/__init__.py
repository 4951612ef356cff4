"""The interface: the command line and its rendering.

Enters: report models from the audit path and the solver.
Leaves: aligned tables for people (`render`) or the documented JSON shapes;
exit codes 0/1/2/3 (`cli`). Only this package prints or exits.
"""
