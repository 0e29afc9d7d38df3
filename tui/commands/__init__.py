"""What the `vllm-top` commands do apart from drawing: settings and their checks, the headless
server, `bench`, `snapshot`, sharing, the dashboard's config file. Nothing here imports Textual
(an import-linter contract in pyproject.toml says so), so `serve --headless`, `bench` and
`snapshot` never load the UI."""
