#!/usr/bin/env python3
"""The one AWS endpoint of the local AWS stack (scripts/local-aws); Python standard library only.

moto's Step Functions engine calls every service, Lambda Invoke included, at
http://localhost:$MOTO_PORT, whatever port moto itself listens on. This proxy listens on that port
and sends

- POST /2015-03-31/functions/<name or ARN, URL-encoded>/invocations to `cargo lambda watch`, as
  /2015-03-31/functions/<binary>/invocations, where <binary> is the name after `:function:` (a
  qualifier after it is dropped);
- /lambda-url/<binary>/... (the HTTP functions) to `cargo lambda watch` unchanged;
- everything else (DynamoDB, Step Functions, /moto-api/...) to moto.

cargo lambda answers a handler error with HTTP 500 and a body {"errorType", "errorMessage"}; real
Lambda answers 200 with the header X-Amz-Function-Error: Unhandled and the same body, and that is
what Step Functions (and every SDK) expects: only then does the state machine see the step's own
error name (`Iras.Transient`, ...) instead of a service error. The proxy translates.

With --log it writes one line per request on stderr:

    aws-proxy: invoke triage -> 200 in 41 ms                     (Lambda Invoke)
    aws-proxy: url webhook POST /webhook/alertmanager -> 202 in 80 ms   (/lambda-url/...)
    aws-proxy: api DynamoDB_20120810.PutItem -> 200 in 3 ms (2817 B in, 2 B out)   (to moto)

An API call is named by its X-Amz-Target header, or else by its method and path. If the environment
variable AWS_PROXY_TRACE names a file, every request is also appended to it as one JSON line (start
and end as epoch seconds, kind invoke/url/api, name, status, milliseconds, sizes, the client's
port, and, for calls to moto, the request and response bodies); scripts/measure-incident reads it.

Usage: aws_proxy.py --listen PORT --moto PORT --lambda PORT [--host 127.0.0.1] [--log]
"""

import argparse
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
TRACE_PATH = os.environ.get("AWS_PROXY_TRACE") or None
TRACE_LOCK = threading.Lock()


def trace(record: dict) -> None:
    """Appends one request to AWS_PROXY_TRACE, if set."""
    if not TRACE_PATH:
        return
    line = json.dumps(record, separators=(",", ":")) + "\n"
    with TRACE_LOCK, open(TRACE_PATH, "a", encoding="utf-8") as f:
        f.write(line)


def function_name(raw: str) -> str:
    """`arn:aws:lambda:us-east-1:123456789012:function:triage[:qualifier]` (URL-encoded or not)
    or a bare `triage` -> `triage`."""
    name = urllib.parse.unquote(raw)
    if ":function:" in name:
        name = name.split(":function:", 1)[1].split(":", 1)[0]
    return name


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Set by main().
    upstream_host = "127.0.0.1"
    moto_port = 0
    lambda_port = 0
    log = False

    def log_message(self, fmt, *args):  # the default logs every request on stderr
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers, body: bytes):
        self.send_response(status)
        for k, v in headers:
            if k.lower() in HOP_BY_HOP or k.lower() == "content-length":
                continue
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, port: int, path: str, body: bytes, timeout):
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("host", "content-length")
        }
        headers["Host"] = f"{self.upstream_host}:{port}"
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(self.upstream_host, port, timeout=timeout)
        try:
            conn.request(self.command, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _handle(self):
        body = self._body()
        started = time.monotonic()
        wall = time.time()
        kind, name = "api", self.headers.get("X-Amz-Target") or f"{self.command} {self.path}"
        split = urllib.parse.urlsplit(self.path)
        invoke = INVOKE.match(split.path) if self.command == "POST" else None
        try:
            if invoke:
                kind, name = "invoke", function_name(invoke.group(1))
                path = f"/2015-03-31/functions/{urllib.parse.quote(name)}/invocations"
                if split.query:
                    path += "?" + split.query
                # No timeout: the first invoke of a function builds it.
                status, headers, out = self._forward(self.lambda_port, path, body, None)
                if status >= 500 and _is_function_error(out):
                    status = 200
                    headers = [
                        (k, v) for k, v in headers if k.lower() != "x-amz-function-error"
                    ] + [("X-Amz-Function-Error", "Unhandled")]
                if status == 200 and not any(k.lower() == "x-amz-executed-version" for k, _ in headers):
                    headers = headers + [("X-Amz-Executed-Version", "$LATEST")]
                if self.log:
                    err = dict(headers).get("X-Amz-Function-Error")
                    ms = (time.monotonic() - started) * 1000
                    print(
                        f"aws-proxy: invoke {name} -> {status}"
                        + (f" (function error {_error_type(out)})" if err else "")
                        + f" in {ms:.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
            elif split.path.startswith("/lambda-url/"):
                kind, name = "url", split.path.split("/")[2]
                status, headers, out = self._forward(self.lambda_port, self.path, body, None)
                if self.log:
                    rest = self.path.split("/", 3)[3] if self.path.count("/") >= 3 else ""
                    ms = (time.monotonic() - started) * 1000
                    print(
                        f"aws-proxy: url {name} {self.command} /{rest} -> {status} in {ms:.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
            else:
                status, headers, out = self._forward(self.moto_port, self.path, body, 300)
                if self.log:
                    ms = (time.monotonic() - started) * 1000
                    print(
                        f"aws-proxy: api {name} -> {status} in {ms:.0f} ms"
                        f" ({len(body)} B in, {len(out)} B out)",
                        file=sys.stderr,
                        flush=True,
                    )
        except OSError as e:
            which = "cargo lambda watch" if (invoke or split.path.startswith("/lambda-url/")) else "moto"
            msg = json.dumps({"message": f"aws-proxy: {which} did not answer: {e}"}).encode()
            if self.log:
                print(f"aws-proxy: {self.command} {self.path}: {which} did not answer: {e}", file=sys.stderr, flush=True)
            status, headers, out = 502, [("Content-Type", "application/json")], msg
        if TRACE_PATH:
            record = {
                "t0": wall,
                "t1": wall + (time.monotonic() - started),
                "kind": kind,
                "name": name,
                "method": self.command,
                "path": self.path,
                "status": status,
                "ms": round((time.monotonic() - started) * 1000, 3),
                "in": len(body),
                "out": len(out),
                "peer": self.client_address[1],
            }
            if kind == "invoke":
                record["function_error"] = dict(headers).get("X-Amz-Function-Error")
            if kind == "api":
                record["request"] = body.decode("utf-8", "replace")
                record["response"] = out.decode("utf-8", "replace")
            try:
                trace(record)
            except OSError as e:
                print(f"aws-proxy: cannot write {TRACE_PATH}: {e}", file=sys.stderr, flush=True)
        self._send(status, headers, out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


def _is_function_error(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and "errorType" in doc


def _error_type(body: bytes) -> str:
    try:
        return str(json.loads(body).get("errorType"))
    except (ValueError, AttributeError):
        return "?"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on and of the upstreams")
    p.add_argument("--listen", type=int, required=True, help="port to listen on (moto's MOTO_PORT)")
    p.add_argument("--moto", type=int, required=True, help="port moto listens on")
    p.add_argument("--lambda", dest="lambda_port", type=int, required=True, help="port of cargo lambda watch")
    p.add_argument("--log", action="store_true", help="log every request (Lambda invokes, function URLs, API calls) on stderr")
    a = p.parse_args()
    Proxy.upstream_host = a.host
    Proxy.moto_port = a.moto
    Proxy.lambda_port = a.lambda_port
    Proxy.log = a.log
    server = ThreadingHTTPServer((a.host, a.listen), Proxy)
    server.daemon_threads = True
    print(f"aws-proxy: listening on http://{a.host}:{a.listen}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
