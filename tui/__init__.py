"""The `vllm-top` command line and its Textual dashboard."""

__version__ = "0.1.0"
