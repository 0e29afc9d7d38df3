"""Servers that are not the vLLM they should be, for the dashboard to survive.

    python -m tests.garbage_server --port P --mode MODE

not-vllm     every path 404 with an HTML page (a web server, say nginx, on the port)
html         every path 200 with an HTML page (a catch-all web app or a captive portal)
garbage      /health 200, /metrics not Prometheus text, /v1/models fine, completions stream
             events that are not JSON
error-pages  /health 200, everything else 502 with a proxy's HTML error page
"""

from __future__ import annotations

import argparse

from aiohttp import web

PAGE = (
    "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
)
MODES = ("not-vllm", "html", "garbage", "error-pages")


def app_for(mode: str) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if mode == "not-vllm":
            return web.Response(
                status=404, text=PAGE.format(title="404 Not Found"), content_type="text/html"
            )
        if mode == "html":
            return web.Response(text=PAGE.format(title="Welcome"), content_type="text/html")
        if path == "/health":
            return web.Response(status=200)
        if mode == "error-pages":
            return web.Response(
                status=502, text=PAGE.format(title="502 Bad Gateway"), content_type="text/html"
            )
        # garbage
        if path == "/metrics":
            return web.Response(text='vllm:num_requests_running{engine="0" 1.0\n# TYPE\n}}{{\n')
        if path == "/v1/models":
            return web.json_response({"object": "list", "data": [{"id": "garbage-model"}]})
        if path.endswith("completions"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(b"data: {not json at all\n\ndata: \x00\xff\n\ndata: [DONE]\n\n")
            await resp.write_eof()
            return resp
        return web.Response(status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    args = parser.parse_args()
    print(f"garbage server ({args.mode}) on port {args.port}", flush=True)
    web.run_app(app_for(args.mode), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
