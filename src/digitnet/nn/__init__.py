"""The math: layers, losses, initializers, the MLP, optimizers, schedules and metrics.

NumPy only (and BLAS for the products); every forward and backward step written by hand.
Imports only the shared leaves (``digitnet.errors``, ``digitnet.parallel``) and ``digitnet.data``
(the deskewing a model applies to its own input).
"""
