"""xor-tui: watch a 2-2-1 ReLU network fail (or learn) XOR, one epoch at a time."""

import os

# PyTorch's matrix products on x86 go through Intel MKL, which picks its code by the CPU: on
# an AVX-512 Xeon `g.t() @ h` over the four XOR rows is a chain of fused multiply-adds, on an
# AMD CPU (and in MKL's COMPATIBLE mode) four products summed left to right. Same torch, other
# last bits. COMPATIBLE is MKL's own switch for results that do not depend on the CPU; with it
# torch gives the same bits on every x86 machine, the engine's (tests/test_engine_torch.py) and
# the source's printouts (every printed loss to the last bit). MKL reads it at its first call,
# so it is set here, before anything of ours imports torch; a value the user set is kept.
os.environ.setdefault("MKL_CBWR", "COMPATIBLE")

__version__ = "0.1.0"
