"""The `vllm-top` command line and its Textual dashboard."""
