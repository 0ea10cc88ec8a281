"""Jobs: the I/O side of a command (engine lifecycle, request loops, storing as it goes)."""
