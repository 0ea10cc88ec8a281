"""Rendering: the evidence card, tables, exports. Nothing here measures."""
