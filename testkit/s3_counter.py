"""A counting proxy in front of S3 (SeaweedFS): every PUT the browser sends by a presigned URL
(a whole file, a part, or a slow link's staged chunk), with its bytes and status, counted on
storage's side of the link. Browser-side counts cannot be trusted
here: Chromium reports a throttled fetch's upload as aborted even when storage stored it.

The stack is pointed at the proxy (MVQ_S3_ENDPOINT_URL), so presigned URLs name it, and it
forwards each request unchanged, Host header included: the signatures stay valid."""

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authorization", "proxy-authenticate"}  # fmt: skip


@dataclass
class Counts:
    # (upload id or object key, part number or 0) → 200s: a part, a chunk, a whole file
    stored: Counter[tuple[str, int]] = field(default_factory=Counter)
    sizes: dict[tuple[str, int], int] = field(default_factory=dict)  # each piece's stored bytes
    bytes_received: int = 0  # every part body that reached storage, whatever it answered
    puts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.stored.clear()
            self.sizes.clear()
            self.bytes_received = 0
            self.puts = 0


class S3Counter:
    """`rate` (bytes a second, shared by every request): the link's upload speed, applied
    where the bytes arrive. DevTools' throttling holds each request to the rate on its own, so
    three parts at once would get three times the link."""

    def __init__(self, target: str, *, rate: float | None = None) -> None:
        self.target = urlsplit(target)
        self.counts = Counts()
        self.rate = rate
        self.generation = 0  # cut(): every counted PUT begun before it dies
        self._free_at = 0.0
        self._link = threading.Lock()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                query = parse_qs(urlsplit(self.path).query)
                # Only presigned PUTs (the browser's) count: the API, the workers and the
                # sweeper sign with a header, writing stitched parts, stills and checkpoints
                # through the same endpoint.
                counted = self.command == "PUT" and "X-Amz-Signature" in query
                chunks: list[bytes] = []
                got = 0
                born = counter.generation
                while got < length:  # a reload cuts a part short: its bytes still count
                    try:
                        chunk = self.rfile.read(min(1 << 14, length - got))
                    except OSError:
                        chunk = b""
                    if counted and counter.generation != born:
                        chunk = b""  # the link was cut under it (cut()): the PUT dies
                    if not chunk:
                        if not counted:
                            self.close_connection = True
                            return
                        with counter.counts.lock:
                            counter.counts.puts += 1
                            counter.counts.bytes_received += got
                        self.close_connection = True
                        return
                    chunks.append(chunk)
                    got += len(chunk)
                    if counted:
                        counter.pace(len(chunk))
                body = b"".join(chunks)
                conn = http.client.HTTPConnection(counter.target.hostname or "127.0.0.1",
                                                  counter.target.port, timeout=300)  # fmt: skip
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if counted:
                    part = int(query.get("partNumber", ["0"])[0])
                    upload = query.get("uploadId", [urlsplit(self.path).path])[0]
                    with counter.counts.lock:
                        counter.counts.puts += 1
                        counter.counts.bytes_received += len(body)
                        if answer.status == 200:
                            counter.counts.stored[(upload, part)] += 1
                            counter.counts.sizes[(upload, part)] = len(body)
                self.send_response(answer.status)
                head = self.command == "HEAD"  # its Content-Length is the object's: kept
                for key, value in answer.getheaders():
                    if key.lower() not in _HOP and (head or key.lower() != "content-length"):
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(data)
                    except OSError:  # the browser went (a reload, the link cut): counted already
                        self.close_connection = True
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def pace(self, size: int) -> None:
        if not self.rate:
            return
        with self._link:
            now = time.monotonic()
            start = max(now, self._free_at)
            self._free_at = start + size / self.rate
            wait = self._free_at - now
        time.sleep(wait)

    def cut(self) -> None:
        """The link drops as a phone's does when it changes cell: every counted PUT in flight
        dies (its bytes so far counted), as a TCP connection does, instead of stalling."""
        self.generation += 1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
