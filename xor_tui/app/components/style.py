"""Number formatting for the tables (colours come from the theme: see ``pixels.theme_colours``)."""


def fmt(v: float | None, width: int = 8, digits: int = 4) -> str:
    if v is None:
        return "—".rjust(width)
    if v != v:
        return "NaN".rjust(width)
    if abs(v) >= 10 ** (width - digits - 2) or (v != 0 and abs(v) < 10**-digits):
        return f"{v:+.{max(digits - 2, 1)}e}".rjust(width)
    return f"{v:+.{digits}f}".rjust(width)


# a row's mark and its theme colour in the row panels: right or wrong side of ½, or refused by
# the loss (at a halt an output of 2.876 is on no side of ½: BCELoss refused it); Row.verdict
VERDICT = {"right": ("✓", "success"), "wrong": ("✗", "error"), "refused": ("✕", "error")}
