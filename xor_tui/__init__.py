"""xor-tui: watch a 2-2-1 ReLU network fail (or learn) XOR, one epoch at a time."""

__version__ = "0.1.0"
