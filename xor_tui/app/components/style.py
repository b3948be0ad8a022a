"""Number formatting for the tables (colours come from the theme: see ``pixels.theme_colours``)."""


import math


def _needs_sci(v: float, width: int, digits: int) -> bool:
    return abs(v) >= 10 ** (width - digits - 2) or (v != 0 and abs(v) < 10**-digits)


def fmt(v: float | None, width: int = 8, digits: int = 4, sci: bool | None = None) -> str:
    """``v`` in ``width`` characters: fixed with ``digits`` decimals, or scientific where fixed
    would hide it (or ``sci``: the notation its column chose, see ``column``)."""
    if v is None:
        return "—".rjust(width)
    if v != v:
        return "NaN".rjust(width)
    if _needs_sci(v, width, digits) if sci is None else (sci and v != 0 and not math.isinf(v)):
        return f"{v:+.{max(digits - 2, 1)}e}".rjust(width)
    return f"{v:+.{digits}f}".rjust(width)


def column(values: list[float | None], width: int, digits: int) -> list[str]:
    """A table column in one notation: fixed, unless one of its values needs scientific
    (-2.980e-08 below -0.00012 read as two kinds of number); then all of them. Exactly 0
    stays ``0``."""
    finite = [v for v in values if v is not None and v == v and not math.isinf(v) and v != 0]
    sci = any(_needs_sci(v, width, digits) for v in finite)
    return ["0" if v == 0 else fmt(v, width, digits, sci).strip() for v in values]


# a row's mark and its theme colour in the row panels: right or wrong side of ½, or refused by
# the loss (at a halt an output of 2.876 is on no side of ½: BCELoss refused it); Row.verdict
VERDICT = {"right": ("✓", "success"), "wrong": ("✗", "error"), "refused": ("✕", "error")}
