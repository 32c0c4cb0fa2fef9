"""Array kernels shared by the tensor builders (:mod:`shinnet.tensors`) and the engine
(:mod:`shinnet.contract`): factored -> dense products, Gram-matrix powers, operator norms,
memory and symmetry checks.  Plain arrays in, arrays out: nothing here knows models or diagrams.

- :mod:`shinnet.kernels.norms`: ``sum_u w_u u_u^(x)k`` (one and many weight rows), Gram tiles and
  powers, operator norms of matricisations (dense SVD, Gram eigenproblem, Lanczos, exact m x m
  hidden-unit eigenproblem).
- :mod:`shinnet.kernels.op_norm_choice`: the flop estimates and the ``"auto"`` rule among those methods.
- :mod:`shinnet.kernels.checks`: read-only float64 copies, symmetry, memory limits, dense advice.
"""
