"""The command line: ``main`` parses and dispatches, one module per command, ``common`` the
helpers they share (one-line messages, exit codes)."""
