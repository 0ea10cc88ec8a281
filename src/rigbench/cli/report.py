"""``rigbench report RUN...``: one self-contained HTML file (placeholder, filled in below)."""
