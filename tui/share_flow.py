"""The share conversation in the dashboard: `p` opens a public URL in front of the server (asking
first when that means restarting it with a generated key), shows the URL once it is ready, and
shows it again on the next `p`; a generated key is shown once only.

The tunnel opens in a thread worker that answers with ShareOpened or ShareFailed.
"""

from __future__ import annotations

import logging
import urllib.parse

from textual.app import App

from engine.events import ServerState
from engine.http import get
from engine.session import AttachedSession, Session, SupervisedSession
from engine.share import Share, generate_api_key
from engine.tunnel import TOKEN_ENV, ssh_hint
from tui.commands.sharing import ShareError, TunnelFactory, banner, open_share
from tui.messages import ShareFailed, ShareOpened
from tui.screens.modals import ConfirmScreen, ShareScreen

log = logging.getLogger(__name__)


def _port(base_url: str) -> int:
    return urllib.parse.urlsplit(base_url).port or 80


class ShareFlow:
    def __init__(
        self,
        app: App[int],
        session: Session,
        share: Share | None = None,
        key_is_new: bool = False,
        make_tunnel: TunnelFactory | None = None,
    ) -> None:
        """share: a public URL opened at the command line (--share); key_is_new: its key was
        generated, so it is shown once; make_tunnel: how `p` opens one (None without an ngrok
        token)."""
        self._app = app
        self._session = session
        self.share = share
        self._key_is_new = key_is_new
        self._make_tunnel = make_tunnel
        self._due = share is not None  # shown once the server is ready

    @property
    def url(self) -> str | None:
        return self.share.endpoint.url if self.share and self.share.endpoint else None

    def url_of(self, session: Session) -> str | None:
        """The public URL if it is this server's (the fleet's Enter changes the server shown)."""
        return self.url if session is self._session else None

    def rebind(self, session: Session) -> None:
        """`p` now shares this server, unless a public URL is open: it stays with its own."""
        if self.share is None:
            self._session = session

    def start(self) -> None:
        """The `p` key."""
        app, session = self._app, self._session
        if self.url is not None:
            self._key_is_new = False  # the URL again; a generated key is never shown twice
            self._show()
            return
        if self._make_tunnel is None:
            port = _port(session.base_url)
            app.notify(
                f"sharing needs an ngrok token in ${TOKEN_ENV}; or share over SSH: "
                f"{ssh_hint(port)}",
                severity="warning",
                timeout=15,
            )
            return
        if isinstance(session, AttachedSession) and session.api_key is None:
            app.notify(
                "a tunnel opens only in front of a server that requires an API key: "
                "attach with --api-key",
                severity="warning",
            )
            return
        if isinstance(session, SupervisedSession) and session.api_key is None:

            def answered(yes: bool | None) -> None:
                if yes:
                    app.notify("restarting vLLM with a generated API key, then sharing it")
                    self._open(generate_api_key())

            app.push_screen(
                ConfirmScreen(
                    "vLLM was started without an API key, and a public URL needs one. "
                    "Restart it with a generated key and share it?"
                ),
                answered,
            )
            return
        self._open(None)

    def _open(self, new_key: str | None) -> None:
        self._app.run_worker(
            lambda: self._open_in_thread(new_key),
            name="share",
            group="share",
            description="share",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _open_in_thread(self, new_key: str | None) -> None:
        session, post = self._session, self._app.post_message
        if new_key is not None:
            assert isinstance(session, SupervisedSession)
            session.set_api_key(new_key)
            session.restart()
        elif session.supervised is False and get(f"{session.base_url}/v1/models").status != 401:
            post(
                ShareFailed(
                    "the server answers /v1 without an API key: not sharing it "
                    "(start it with --api-key)"
                )
            )
            return
        assert session.api_key is not None and self._make_tunnel is not None
        try:
            share = open_share(
                session.base_url, session.api_key, _port(session.base_url), self._make_tunnel
            )
        except ShareError as exc:
            post(ShareFailed(str(exc)))
            return
        post(ShareOpened(share, key_is_new=new_key is not None))

    def opened(self, message: ShareOpened) -> None:
        self.share = message.share
        self._key_is_new = message.key_is_new
        self._due = True
        log.info("shared at %s", self.url)

    def failed(self, message: ShareFailed) -> None:
        log.warning("not shared: %s", message.reason)
        self._app.notify(message.reason, title="not shared", severity="error", timeout=20)

    def show_when_ready(self, state: ServerState) -> None:
        """The URL (and a generated key, once) in a dialog, as soon as the server is ready."""
        if self._due and state is ServerState.READY:
            self._show()

    def _show(self) -> None:
        if self.share is None or self.share.endpoint is None:
            return
        self._due = False
        self._app.push_screen(ShareScreen(banner(self.share.endpoint, self._key_is_new)))

    def close(self) -> None:
        if self.share is not None:
            self.share.close()
            log.info("public URL closed")
