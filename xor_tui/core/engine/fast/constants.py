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

# what the survey kernel does in a call (its MODE argument, flags): train; or judge each
# network's state (the start's layers, or the rows of P) into an int32 of bits laid out as
# below, and nothing else; or while it trains from epoch 0, judge each block's start before
# training it (into ``bits``), and after training it, its states (into ``ends``)
TRAIN, JUDGE_LAYERS, JUDGE_STATES, JUDGE_START, JUDGE_END = 0, 1, 2, 4, 8
BIT_HIDDEN = 0  # 8 bits: hidden pre-activation > 0, bit 2 * row + unit
BIT_OUTPUT = 8  # 4 bits: the output's pre-activation > 0, bit per row
BIT_GRAD = 12  # 9 bits: a nonzero gradient, in the order of a row of P (w00 w01 w10 w11 b0 b1 v0 v1 c)
BIT_HALTS = 21  # the state halts (BCELoss refuses it, or the loss is not finite)
BIT_RIGHT = 22  # 4 bits: the prediction is on the right side of 0.5, bit per row

# DECODE (a MODE flag, with JUDGE_*): each judged state's bits also become a one-byte code, by
# the caller's table (int32, DEC_SIZE entries; the survey makes it from the rules, which the
# kernel does not know), into ``codes`` (the starts') or ``end_codes`` (the ends'). A start:
# e = T[bits & 0xFFF] (its signs), code = T[(e & 0xFFFFFF) + ((bits >> BIT_GRAD) & 0x3FF)]
# | (e >> 24) << 4; an end: T[DEC_END + (bits >> BIT_GRAD)], or T[DEC_HALTED] for a network
# that halted in training
DECODE = 16
DEC_END = 1 << 16
DEC_HALTED = DEC_END + (1 << (BIT_RIGHT + 4 - BIT_GRAD))
DEC_SIZE = DEC_HALTED + 1

# each kernel's C arguments (after its three kinds, loss, output, hidden, as int64 in the
# generic module), the one statement of them: epoch builds numba's signatures from it, kernel
# the ctypes call
ARGS = {
    # P w4 b2 v2 c1 (float32 rows), halt, live; n clo chi; e0 e1; hs os neg_lr; scratch S R H NET W;
    # MODE, bits and ends (int32 per network, written when judging); the DECODE table, codes and
    # end codes (a byte per network)
    "survey": "f32* f32* f32* f32* f32* i64* u8* i64 i64 i64 i32 i32 f32 f32 f32 f32* i32* i32* i64* f32* "
    "i32 i32* i32* i32* u8* u8*",
    "path": "f32* f32* i64 f32 f32 f32",  # p, rows; count; hs os neg_lr
}
