"""A TCP proxy that stands in for "PostgreSQL stopped and started" (issue 7).

The machine's PostgreSQL server is shared with other sessions and tests, so it is never stopped:
the service under test connects through this proxy instead, and `cut()` does to it what a server
restart does to its clients — every live connection is reset, and new ones are refused until
`restore()`. The server itself, and every transaction it holds, sees its clients vanish, exactly
as when they lose the network: it rolls back whatever had not committed.

    with TcpProxy(5432) as proxy:            # 127.0.0.1:<proxy.port> → 127.0.0.1:5432
        url = proxy.url_for(database_url)
        proxy.cut(); ...; proxy.restore()
"""
from __future__ import annotations

import socket
import struct
import threading

from sqlalchemy.engine import make_url

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 seconds: close() sends RST, not FIN


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    except OSError:
        pass
    try:  # wakes the pump blocked in recv() on it (close() alone would not, on Linux)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class TcpProxy:
    """Threads, one listener and two pumps per connection; `cut()`/`restore()` from any thread."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._up = True
        self._closed = False
        self.accepted = self.refused = self.reset = 0
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def url_for(self, database_url: str) -> str:
        """`database_url` with host and port replaced by the proxy's."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False)

    @property
    def up(self) -> bool:
        return self._up

    def cut(self) -> int:
        """Reset every live connection and refuse new ones; the number reset."""
        with self._lock:
            self._up = False
            live, self._live = self._live, set()
        for sock in live:
            _reset(sock)
        self.reset += len(live) // 2
        return len(live) // 2

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        try:
            self._listener.close()
        except OSError:
            pass

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- inside ----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if not self._up:  # cut while connecting
                    self.refused += 1
                    _reset(client)
                    _reset(upstream)
                    continue
                self._live.update((client, upstream))
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        # One side ended (or was reset by cut()): end the other, and forget both.
        with self._lock:
            self._live.discard(source)
            self._live.discard(sink)
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
