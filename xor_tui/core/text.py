"""Text that is safe to echo: no control characters, bounded length."""

from __future__ import annotations

import unicodedata


def printable(text: str, limit: int = 200) -> str:
    """``text`` with every control or format character escaped (``\\x1b``, ``\\n``, ``\\u202e``)
    and cut to about ``limit`` characters, saying how long it was."""
    text = str(text)
    cut = len(text) > limit
    head = text[:limit]
    out = []
    for ch in head:
        if ch.isprintable() and unicodedata.category(ch)[0] != "C":
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x100:
                out.append(repr(ch)[1:-1])  # \x1b, \n, \t
            else:
                out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    result = "".join(out)
    if cut:
        result += f"... ({len(text):,} characters)"
    return result


def capitalised(text: str) -> str:
    """``text`` with its first letter upper case, the rest as it was (str.capitalize lowers it:
    'BCELoss' would become 'Bceloss')."""
    return text[:1].upper() + text[1:]
