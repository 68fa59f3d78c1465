"""Measures the Lambda INIT phase of a bootstrap binary locally: a minimal Lambda Runtime API
on 127.0.0.1 records when the process first asks for an invocation (end of init), hands it
one API Gateway v2 event (GET /v1/health) and records when the response is posted."""
import json, os, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENT = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/v1/health", "rawQueryString": "",
    "headers": {"host": "api.example"},
    "requestContext": {"accountId": "1", "apiId": "a", "domainName": "api.example",
        "domainPrefix": "api", "http": {"method": "GET", "path": "/v1/health",
        "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
        "requestId": "r", "routeKey": "$default", "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
    "isBase64Encoded": False,
}
marks = {}
done = threading.Event()

class Runtime(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.endswith("/invocation/next"):
            if "init_done" in marks:
                time.sleep(30); return
            marks["init_done"] = time.perf_counter()
            body = json.dumps(EVENT).encode()
            self.send_response(200)
            for k, v in [("Lambda-Runtime-Aws-Request-Id", "req-1"),
                         ("Lambda-Runtime-Deadline-Ms", str(int(time.time()*1000)+30000)),
                         ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:f"),
                         ("Content-Type", "application/json"), ("Content-Length", str(len(body)))]:
                self.send_header(k, v)
            self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); body = self.rfile.read(n)
        marks["response"] = time.perf_counter(); marks["body"] = body[:300]
        self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
        done.set()

srv = ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
threading.Thread(target=srv.serve_forever, daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.server_address[1]}",
           AWS_LAMBDA_FUNCTION_NAME="f", AWS_LAMBDA_FUNCTION_VERSION="1",
           AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256", RUST_LOG="info")
start = time.perf_counter()
proc = subprocess.Popen([sys.argv[1]], env=env, stderr=subprocess.PIPE)
ok = done.wait(30)
proc.kill(); err = proc.stderr.read().decode(errors="replace")
print(json.dumps({"init_ms": round((marks.get("init_done", 0) - start) * 1000, 1),
                  "first_response_ms": round((marks.get("response", 0) - start) * 1000, 1),
                  "ok": ok, "body": marks.get("body", b"").decode(errors="replace")}))
print(err[-600:], file=sys.stderr)
