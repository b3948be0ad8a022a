"""The core: everything xor-tui computes, as plain Python. Never imports textual.

Layers, each importing only the ones below it (pyproject.toml's import-linter contracts):

- ``session`` and ``view``: the one way in for the app (a session owns a run; a Frame is
  what the app draws for an epoch);
- ``studies``: what is done with many runs or whole runs (survey, sweep, replay, report,
  printout recovery);
- ``io``: file formats (scenarios, PyTorch files, the student's printouts) and safe writing;
- ``rules``: what a state means (dead units, frozen parameters, the eight cases, events);
- ``engine``: the arithmetic (activations, losses, the forward/backward/SGD step, a run's
  history, the actions that change a run) and ``engine.fast``, the fused numba kernels;
- ``text``: small text helpers every layer may use.
"""
