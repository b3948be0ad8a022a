"""The Textual app: a thin view over xor_tui.core."""

import os

# Textual composites screen updates on a timer (60 per second by default), which alone
# adds up to 17 ms between a key and the redrawn screen; a step should feel immediate.
# Set before textual is imported; a user's own TEXTUAL_FPS wins.
os.environ.setdefault("TEXTUAL_FPS", "120")
