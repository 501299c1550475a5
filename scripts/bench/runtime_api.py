"""A minimal Lambda Runtime API (the protocol cargo lambda's runtime and AWS implement),
with timestamps: when the function first asks for an event (init done), when each response
arrives. Both the Rust functions and the Python baseline (awslambdaric) speak it, so both
are measured the same way. Loopback only."""

import http.server
import json
import queue
import socket
import threading
import time
import uuid


class RuntimeApi:
    def __init__(self):
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.first_next = None
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Without this, Nagle's algorithm and delayed ACKs add ~40 ms to every
                # response written in two segments: the harness would measure TCP, not
                # the function.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    if api.first_next is None:
                        api.first_next = time.perf_counter()
                    body = api.events.get()
                    rid = str(uuid.uuid4())
                    data = json.dumps(body).encode()
                    self.send_response(200)
                    self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                    self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                now = time.perf_counter()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                kind = "error" if self.path.endswith("/error") else "response"
                api.responses.put((now, kind, body))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event, timeout=60):
        sent = time.perf_counter()
        self.events.put(event)
        done, kind, body = self.responses.get(timeout=timeout)
        return done - sent, kind, body

    def close(self):
        self.server.shutdown()
