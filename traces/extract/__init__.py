"""Trace extraction from real pretrained models (``python -m traces.extract``)."""
