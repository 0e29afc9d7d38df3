"""Headless core of vllm-top: supervision, logs, metrics, GPU sampling.

Nothing in this package imports Textual, vLLM or torch (tests/test_import_hygiene.py proves it).
"""
