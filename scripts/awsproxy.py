"""A small HTTP proxy in front of moto, on loopback, that answers named AWS operations the
way a test or the demo needs: a canned (recorded) answer, throttling or server errors for
the first N calls, a delay past the SDK's timeout, a reset connection, AccessDenied.
Everything else is forwarded to moto unchanged (DynamoDB's calls one at a time: moto's
conditional writes are not atomic under racing writers, DynamoDB's are), but for what moto
does not model, which the proxy answers itself on top of moto's state:

- Security Hub's `BatchUpdateFindings` (`PATCH /findings/batchupdate`): each named finding is
  read from moto (`GetFindings`), given the request's `Workflow.Status` and `Note` (with the
  time as its `UpdatedAt`; the finding's own `UpdatedAt` stays the product's), and imported
  back (`BatchImportFindings`); the answer lists it as processed, or as unprocessed
  (`FindingNotFound`) when moto has no finding with that Id and ProductArn. A note over 512
  characters is refused, as Security Hub does.
- GuardDuty's `ArchiveFindings` (`POST /detector/{id}/findings/archive`; moto keeps no
  findings): the detector is looked up in moto (`GetDetector`, refused as GuardDuty does when
  the account has no such detector), and the archived finding ids are kept, listed at
  `GET /__proxy/guardduty/archived` as `[{"detector": ..., "finding": ...}]`.

    python awsproxy.py --port PORT --upstream http://127.0.0.1:MOTO_PORT [--rules FILE]

Rules are a JSON list; each rule names an `operation` (the API name: `LookupEvents`,
`RevokeSecurityGroupIngress`, ...) and what to do:

    {"operation": "UpdateAccessKey", "fault": "throttle", "times": 2}
    {"operation": "RevokeSecurityGroupIngress", "fault": "error", "status": 500, "code": "InternalError"}
    {"operation": "DeleteNetworkAclEntry", "fault": "delay", "seconds": 40}
    {"operation": "PutUserPolicy", "fault": "reset"}
    {"operation": "TagUser", "fault": "denied"}
    {"operation": "LookupEvents", "fault": "respond", "status": 200, "body_file": "recorded.json"}

`times` limits a rule to the first N matching calls (then the call is forwarded); without
it the rule holds for every call. The running proxy takes new rules at
`PUT /__proxy/rules` and reports per-operation counts (calls, faults) at `GET /__proxy/stats`.
It binds to 127.0.0.1 only.
"""

import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
DYNAMODB = threading.Lock()
STATE = {"rules": [], "stats": {}, "archived": []}


def operation(headers, body):
    """The API operation of a request: the JSON protocols name it in X-Amz-Target, the query
    protocols in the form body's Action; REST APIs (S3, Lambda) by method and path."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1], "json"
    if body and b"Action=" in body:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        action = form.get("Action", [""])[0]
        scope = headers.get("Authorization", "").split("Credential=")[-1].split("/")
        service = scope[3] if len(scope) > 3 else ""
        return action, "ec2" if service == "ec2" else "query"
    return None, "rest"


def rest_operation(method, path):
    """The REST operations the proxy knows by method and path."""
    path = path.split("?")[0]
    if method == "PATCH" and path == "/findings/batchupdate":
        return "BatchUpdateFindings"
    parts = path.split("/")
    if method == "POST" and len(parts) == 5 and parts[1] == "detector" and parts[3:] == ["findings", "archive"]:
        return "ArchiveFindings"
    return None


def error_body(protocol, code, message):
    if protocol == "json":
        return "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message})
    if protocol == "ec2":
        return "text/xml", f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>awsproxy</RequestID></Response>"
    return "text/xml", f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>awsproxy</RequestId></ErrorResponse>"


def pick(op):
    """The rule for this call, counting it; None to forward."""
    with LOCK:
        stats = STATE["stats"].setdefault(op or "?", {"calls": 0, "faults": 0})
        stats["calls"] += 1
        for rule in STATE["rules"]:
            if rule.get("operation") != op:
                continue
            if "times" in rule:
                if rule.setdefault("used", 0) >= rule["times"]:
                    continue
                rule["used"] += 1
            stats["faults"] += 1
            return dict(rule)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, content_type, body, extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "awsproxy")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _control(self, body):
        if self.command == "PUT" and self.path == "/__proxy/rules":
            with LOCK:
                STATE["rules"] = json.loads(body or b"[]")
                STATE["stats"] = {}
            return self._send(200, "application/json", "{}")
        if self.path == "/__proxy/stats":
            with LOCK:
                return self._send(200, "application/json", json.dumps(STATE["stats"]))
        if self.path == "/__proxy/guardduty/archived":
            with LOCK:
                return self._send(200, "application/json", json.dumps(STATE["archived"]))
        return self._send(404, "application/json", "{}")

    def _handle(self):
        body = self._body()
        if self.path.startswith("/__proxy/"):
            return self._control(body)
        op, protocol = operation(self.headers, body)
        if op is None and rest_operation(self.command, self.path):
            op, protocol = rest_operation(self.command, self.path), "json"
        rule = pick(op)
        fault = rule.get("fault") if rule else None
        if fault == "reset":
            # Close without an answer: the SDK sees a dropped connection.
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault == "delay":
            time.sleep(float(rule.get("seconds", 30)))
        elif fault == "throttle":
            code = rule.get("code", "RequestLimitExceeded" if protocol == "ec2" else "Throttling")
            ctype, text = error_body(protocol, code, "Rate exceeded (injected by awsproxy)")
            return self._send(int(rule.get("status", 503 if protocol == "ec2" else 400)), ctype, text)
        elif fault == "denied":
            code = rule.get("code", "UnauthorizedOperation" if protocol == "ec2" else "AccessDenied")
            ctype, text = error_body(protocol, code, f"not authorized to perform {op} (injected by awsproxy)")
            return self._send(403, ctype, text)
        elif fault == "error":
            ctype, text = error_body(protocol, rule.get("code", "InternalError"), rule.get("message", "injected by awsproxy"))
            return self._send(int(rule.get("status", 500)), ctype, text)
        elif fault == "respond":
            text = rule.get("body", "")
            if "body_file" in rule:
                with open(rule["body_file"]) as f:
                    text = f.read()
            return self._send(int(rule.get("status", 200)), rule.get("content_type", "application/x-amz-json-1.1"), text)
        if op == "BatchUpdateFindings":
            return self._batch_update_findings(body)
        if op == "ArchiveFindings":
            return self._archive_findings(body)
        self._forward(body)

    def _upstream(self, method, path, body):
        """One call to moto with this request's credentials; (status, parsed JSON)."""
        up = urllib.parse.urlparse(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        skip = ("connection", "keep-alive", "content-length", "content-type")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        headers["Content-Type"] = "application/json"
        conn.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, json.loads(data or b"{}")

    def _batch_update_findings(self, body):
        req = json.loads(body or b"{}")
        note = req.get("Note")
        if note and len(note.get("Text", "")) > 512:
            ctype, text = error_body("json", "InvalidInputException", "Note.Text is longer than 512 characters")
            return self._send(400, ctype, text)
        findings, token = [], None
        while True:
            status, page = self._upstream("POST", "/findings", {"NextToken": token} if token else {})
            if status != 200:
                return self._send(status, "application/json", json.dumps(page))
            findings += page.get("Findings", [])
            token = page.get("NextToken")
            if not token:
                break
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        processed, unprocessed, changed = [], [], []
        for ident in req.get("FindingIdentifiers", []):
            f = next((f for f in findings if f.get("Id") == ident.get("Id") and f.get("ProductArn") == ident.get("ProductArn")), None)
            if f is None:
                unprocessed.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound", "ErrorMessage": "finding not found"})
                continue
            if "Workflow" in req:
                f["Workflow"] = {"Status": req["Workflow"]["Status"]}
            if note:
                f["Note"] = {"Text": note["Text"], "UpdatedBy": note.get("UpdatedBy", ""), "UpdatedAt": now}
            # The finding's UpdatedAt is the product's: BatchUpdateFindings leaves it as it is.
            changed.append(f)
            processed.append(ident)
        if changed:
            status, out = self._upstream("POST", "/findings/import", {"Findings": changed})
            if status != 200 or out.get("FailedCount"):
                return self._send(500, "application/json", json.dumps({"__type": "InternalException", "message": f"moto refused the import: {out}"}))
        return self._send(200, "application/json", json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}))

    def _archive_findings(self, body):
        detector = self.path.split("?")[0].split("/")[2]
        status, _ = self._upstream("GET", f"/detector/{detector}", None)
        if status != 200:
            ctype, text = error_body("json", "BadRequestException", "The request is rejected because the input detectorId is not owned by the current account.")
            return self._send(400, ctype, text)
        ids = json.loads(body or b"{}").get("findingIds", [])
        with LOCK:
            STATE["archived"] += [{"detector": detector, "finding": i} for i in ids]
        return self._send(200, "application/json", "{}")

    def _forward(self, body):
        # moto's DynamoDB checks a write's condition and writes without a lock, so two racing
        # conditional writes can both succeed; DynamoDB's are atomic. DynamoDB calls through
        # the proxy are forwarded one at a time, as the ledger's racing tests need.
        if (self.headers.get("X-Amz-Target") or "").startswith("DynamoDB_"):
            with DYNAMODB:
                return self._forward_now(body)
        return self._forward_now(body)

    def _forward_now(self, body):
        up = urllib.parse.urlparse(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--rules")
    a = p.parse_args()
    if a.rules:
        with open(a.rules) as f:
            STATE["rules"] = json.load(f)
    Handler.upstream = a.upstream
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    print(f"awsproxy on 127.0.0.1:{a.port} -> {a.upstream} (pid {os.getpid()})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
