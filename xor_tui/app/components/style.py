"""Colours shared by the views: one meaning per colour."""

POSITIVE = "bold green3"  # a pre-activation > 0: the unit is active on that row
NEGATIVE = "bold red1"  # < 0: inactive (for ReLU: output 0, no gradient)
ZERO = "bold yellow"  # exactly 0 (ReLU's gradient there is 0 too)
W_POS = "dodger_blue1"  # a positive weight
W_NEG = "orange1"  # a negative weight
FROZEN = "grey35"  # no gradient flowed this epoch
SELECTED = "reverse bold"
ALIVE, PARTLY, DEAD = "green3", "yellow3", "red1"


def sign_style(v: float) -> str:
    if v > 0:
        return POSITIVE
    if v < 0:
        return NEGATIVE
    if v == 0:
        return ZERO
    return "bold magenta"  # NaN


def fmt(v: float | None, width: int = 8, digits: int = 4) -> str:
    if v is None:
        return "—".rjust(width)
    if v != v:
        return "NaN".rjust(width)
    if abs(v) >= 10 ** (width - digits - 2) or (v != 0 and abs(v) < 10**-digits):
        return f"{v:+.{max(digits - 2, 1)}e}".rjust(width)
    return f"{v:+.{digits}f}".rjust(width)
