"""The README's table of outcomes: real surveys of 100,000 starts per setting.

    python benchmarks/survey_table.py [--n 100000]

Prints a Markdown table: for the source's setting and for the usual fixes, the share of
starts that solve XOR, halt (BCELoss range error or a non-finite loss) or get stuck.
"""

from __future__ import annotations

import argparse

from xor_tui.core.engine.activations import parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.studies.survey import run_survey

SETTINGS = [
    ("the source's logged setting", "relu", "relu", "bce", 0.001, 200),
    ("the source's printed code (lr 0.1)", "relu", "relu", "bce", 0.1, 200),
    ("LeakyReLU(0.01) hidden", "leaky_relu:0.01", "relu", "bce", 0.1, 1000),
    ("ELU in both layers (the author's try)", "elu", "elu", "bce", 0.1, 1000),
    ("sigmoid output", "relu", "sigmoid", "bce", 0.5, 2000),
    ("bce-logits (loss on the pre-activation)", "relu", "identity", "bce-logits", 0.5, 2000),
    ("LeakyReLU hidden + sigmoid output", "leaky_relu:0.01", "sigmoid", "bce", 0.5, 2000),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print("| setting | hidden / output | loss | lr | epochs | solved | halted | stuck | still learning |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, hidden, output, loss, lr, epochs in SETTINGS:
        config = Config((2,), (parse_activation(hidden), parse_activation(output)), loss, lr)
        r = run_survey(config, args.n, epochs, seed=args.seed)
        o = r.outcome_shares()
        print(
            f"| {label} | {hidden} / {output} | {loss} | {lr:g} | {epochs} | {o['solved']:.1%} | "
            f"{o['halted']:.1%} | {o['stuck']:.1%} | {o['learning']:.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
