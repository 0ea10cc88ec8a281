"""Test helpers that ship with rigbench (a scripted fake server)."""
