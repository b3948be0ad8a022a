"""What the fused kernel's driver (``kernel``) and its numba code (``epoch``) share: the
sizes of its blocks, the kinds of loss and activation each setting is compiled for, and the
C arguments of each kernel. Imports nothing."""

# networks per block. Each slice of epochs packs a block's running networks into groups of
# LANES, the last one padded: 2,048 waste ~2% of the lanes (512 wasted ~7%); the block's
# state (74 KB) is touched only between slices, a group's (ROWS x LANES) every epoch
CHUNK = 2048
# networks trained side by side: four AVX2 vectors of float32. An epoch is one long chain of
# dependent operations per network, so the speed comes from chains in flight: 32 lanes ran
# ~7% faster than 16 here, 64 (registers spilled) no faster than 16
LANES = 32
SHIFT = 5  # LANES == 1 << SHIFT
SPAN = 16  # epochs in the second slice (the first is one epoch); each later slice doubles
ROWS = 11  # a group's state, a row per lane each: nine parameters, running (1/0), halt epoch

# loss kinds and activation kinds: constants of each setting's kernel
BCE, MSE, LOGITS = 0, 1, 2
RELU, LEAKY, SIGMOID = 0, 1, 2  # LEAKY: LeakyReLU(slope), and identity as slope 1
RAN_OUT, HALTS, REPEATS = 0, 1, 2  # why a trajectory stopped
LOSS_KIND = {"bce": BCE, "mse": MSE, "bce-logits": LOGITS}
PIECEWISE_ACTS = ("relu", "leaky_relu", "identity")

# each kernel's C arguments after its three kinds (loss, output, hidden; int64), the one
# statement of them: _kernels builds numba's signatures from it, _load_object the ctypes call
ARGS = {
    # P w4 b2 v2 c1 (float32 rows), halt, live; n clo chi; e0 e1; hs os neg_lr; scratch S R H NET W
    "survey": "f32* f32* f32* f32* f32* i64* u8* i64 i64 i64 i32 i32 f32 f32 f32 f32* i32* i32* i64* f32*",
    "path": "f32* f32* i64 f32 f32 f32",  # p, rows; count; hs os neg_lr
}
