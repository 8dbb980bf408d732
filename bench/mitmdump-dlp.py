# A mitmdump addon that gives mitmdump the gate's scanning workload, so that
# bench/gate.ts compares like with like: every request's URL (host, raw and
# percent-decoded path and query), header names and values (raw and
# percent-decoded) and body (decoded by its Content-Encoding) are searched
# for the bottle's secret values in all their encoded variants and for the
# gate's built-in credential rules, the very patterns src/gate/dlp compiles
# (bench/gate.ts exports them to a JSON file: literals as hex, rules as
# regex source). A finding is answered 403; every request is one JSON audit
# line, flushed, as the gate writes one.
#
# What it does not do (said in the bench output too): the gate's entropy
# check on path, query and host labels, and the rules' extra checks (left
# boundary, mixed case); the regexes here run over the whole text instead of
# from an anchor, which costs Python more, not less.
#
#   mitmdump -s bench/mitmdump-dlp.py --set dlp_patterns=FILE --set dlp_audit=FILE
import json
import re
import time
from urllib.parse import unquote_to_bytes

from mitmproxy import ctx, http


class Dlp:
    def __init__(self):
        self.literals = None
        self.rules = []
        self.audit = None

    def load(self, loader):
        loader.add_option("dlp_patterns", str, "", "JSON file: literals (hex) and rules (regex source)")
        loader.add_option("dlp_audit", str, "", "file to append one JSON line per request to")

    def configure(self, updated):
        if "dlp_patterns" in updated and ctx.options.dlp_patterns:
            with open(ctx.options.dlp_patterns) as f:
                spec = json.load(f)
            lits = sorted((bytes.fromhex(h) for h in spec["literals"]), key=len, reverse=True)
            self.literals = re.compile(b"|".join(re.escape(x) for x in lits))
            self.folded = re.compile(b"|".join(re.escape(x) for x in lits), re.IGNORECASE)
            self.rules = []
            for r in spec["rules"]:
                flags = re.IGNORECASE if "i" in r["flags"] else 0
                self.rules.append((r["name"], re.compile(r["source"].encode(), flags)))
        if "dlp_audit" in updated and ctx.options.dlp_audit:
            self.audit = open(ctx.options.dlp_audit, "a")

    def scan(self, data):
        if not data:
            return None
        if self.literals.search(data):
            return "secret"
        for name, rx in self.rules:
            if rx.search(data):
                return name
        return None

    def find(self, req):
        host = req.host.encode()
        if self.folded.search(host) or self.folded.search(host.replace(b".", b"")):
            return "secret", "host"
        path = req.path.encode()
        q = path.find(b"?")
        p, query = (path, b"") if q < 0 else (path[:q], path[q + 1 :])
        for where, raw, plus in (("path", p, False), ("query", query, True)):
            hit = self.scan(raw)
            if not hit and (b"%" in raw or (plus and b"+" in raw)):
                hit = self.scan(unquote_to_bytes(raw.replace(b"+", b" ") if plus else raw))
            if hit:
                return hit, where
        for name, value in req.headers.fields:
            hit = self.scan(name) or self.scan(value)
            if not hit and b"%" in value:
                hit = self.scan(unquote_to_bytes(value))
            if hit:
                return hit, "header"
        hit = self.scan(req.content)
        return (hit, "body") if hit else None

    def request(self, flow: http.HTTPFlow):
        if self.literals is None:
            return
        req = flow.request
        found = self.find(req)
        if found:
            flow.response = http.Response.make(403, f"blocked: dlp: {found[0]} in {found[1]}\n".encode())
        if self.audit:
            self.audit.write(
                json.dumps(
                    {
                        "time": time.time(),
                        "method": req.method,
                        "host": req.host,
                        "port": req.port,
                        "path": req.path.split("?")[0],
                        "decision": "deny" if found else "allow",
                        "reason": f"dlp: {found[0]} in {found[1]}" if found else None,
                    }
                )
                + "\n"
            )
            self.audit.flush()


addons = [Dlp()]
