"""The arithmetic, exactly as PyTorch does it: activations, losses, the network's forward,
backward and SGD step (``net``), a run's history of epochs (``run``), the changes a user or a
script makes to a run (``actions``), and the fused numba kernels (``fast``). Knows nothing of
rules, files or the app."""
