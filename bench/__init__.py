"""Latency benchmark: dify-mock against reference hosts. Run with `python -m bench`."""
