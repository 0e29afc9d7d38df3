"""A TCP proxy that makes the keep-alive race happen every time.

When the server closes an idle kept-alive connection, the proxy keeps that news from the client
until the client writes on the connection again; it then closes the client's side without
passing a byte on. That is what a client whose event loop stalled past the server's keep-alive
lives through: its pooled connection looked open when it took it, and its request never reached
the server. `swallowed` counts those requests.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class LateCloseProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self.swallowed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            upstream_gone = threading.Event()
            threading.Thread(
                target=self._to_client, args=(upstream, client, upstream_gone), daemon=True
            ).start()
            threading.Thread(
                target=self._to_upstream, args=(client, upstream, upstream_gone), daemon=True
            ).start()

    def _to_client(
        self, upstream: socket.socket, client: socket.socket, gone: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                client.sendall(data)
        gone.set()  # the server closed it: the client is not told (yet)
        upstream.close()

    def _to_upstream(
        self, client: socket.socket, upstream: socket.socket, gone: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if gone.is_set():
                    with self._lock:
                        self.swallowed += 1
                    break  # the request dies here, as on a connection the server had closed
                upstream.sendall(data)
        client.close()
