"""The fused numba kernels: many 2-2-1 networks trained at once (``kernel`` drives them and
keeps the compiled code; ``epoch`` is the epoch itself as numba code; ``constants`` what both
share), bit for bit the torch engine's arithmetic."""
