"""Files: scenarios (TOML), PyTorch state_dicts, the student's printouts, and the one way
xor-tui writes a file (atomic, never over an existing one unless asked)."""
