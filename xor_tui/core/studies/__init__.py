"""Whole runs and many runs: the survey and sweep over random starts, headless replay and its
report, and recovering a run's float32 start from printouts."""
