"""Talking to servers: a pure SSE parser, one streamed request -> RequestRecord, probing."""
