import { judgeHostSocket } from "../judges.ts";
import type { Attack, AttackContext, Endpoint } from "../types.ts";
import { q, sealed } from "./common.ts";

// Categories 4 (DNS) and 6/7 (sockets that ignore the proxy). Every target
// is a receiver on the host side, on each of the host's own addresses (the
// docker bridge, the LAN address, IPv6): the nearest things a sandbox could
// reach, and the only ones whose other side we can read. A public address
// would fail the same way with no one to confirm nothing arrived.
//
// Each body runs ONE tool, prints its full output and "RC=<exit>" (no pipe:
// a pipe's status is the last command's), and the judge reads it together
// with the receivers and `ip -o addr`.

const hp = (e: Endpoint) => (e.host.includes(":") ? `[${e.host}]` : e.host);

export function sealedAttacks(ctx: AttackContext): Attack[] {
  const list: Attack[] = [];

  // 4. DNS straight to the host's DNS recorders, over UDP and TCP; and the
  // sandbox's own resolver configuration.
  for (const d of ctx.hostDns) {
    const name = `leak-${ctx.nonce}.example.com`;
    list.push(
      sealed(`4.dig-${d.label}`, 4, `dig @${d.host} (UDP)`, ["dig"], () =>
        `dig +time=2 +tries=1 -p ${d.port} @${d.host} ${name} A 2>&1; echo "RC=$?"`,
      ),
    );
    list.push(
      sealed(`4.dig-tcp-${d.label}`, 4, `dig @${d.host} (TCP)`, ["dig"], () =>
        `dig +tcp +time=2 +tries=1 -p ${d.port} @${d.host} ${name} A 2>&1; echo "RC=$?"`,
      ),
    );
  }
  list.push(
    sealed(
      "4.resolver",
      4,
      "the system resolver",
      ["getent"],
      () => `getent hosts leak-${ctx.nonce}.example.com 2>&1; echo "RC=$?"`,
      // getent prints no reason: its exit code, no arrival and no interface decide.
      false,
    ),
  );

  // 6. Raw sockets to the host's addresses: socat and bash's /dev/tcp for
  // TCP, socat for UDP, curl with the proxy turned off.
  for (const t of ctx.hostTcp) {
    list.push(
      sealed(`6.tcp-${t.label}`, 6, `TCP to the host at ${t.host} (socat)`, ["socat", "timeout"], () =>
        `timeout 5 socat -u /dev/null TCP:${hp(t)}:${t.port},connect-timeout=3 2>&1; echo "RC=$?"`,
      ),
    );
    list.push(
      sealed(`6.devtcp-${t.label}`, 6, `TCP to the host at ${t.host} (bash /dev/tcp)`, ["bash", "timeout"], () =>
        `timeout 5 bash -c ${q(`exec 3<>/dev/tcp/${t.host}/${t.port} && echo opened && head -n1 <&3`)} 2>&1; echo "RC=$?"`,
      ),
    );
  }
  for (const u of ctx.hostUdp) {
    list.push(
      sealed(`6.udp-${u.label}`, 6, `UDP to the host at ${u.host}`, ["socat", "timeout"], () =>
        `echo leak | timeout 5 socat -u - UDP:${hp(u)}:${u.port} 2>&1; echo "RC=$?"`,
      ),
    );
  }
  const web = ctx.hostTcp[0];
  if (web) {
    list.push(
      sealed("6.noproxy-curl", 6, `curl with the proxy disabled to ${web.host}`, ["curl"], () =>
        // -v: curl's one-line error hides the reason ("Couldn't connect").
        `probe -v --noproxy '*' http://${hp(web)}:${web.port}/`,
      ),
    );
  }

  // 7. A unix socket service on the host.
  if (ctx.hostUnixSocket) {
    const path = ctx.hostUnixSocket;
    list.push({
      id: "7.unix-host-socket",
      category: 7,
      title: "a unix socket service on the host",
      expected: "sealed-fs",
      tools: ["socat", "timeout"],
      body: () => `timeout 5 socat -u /dev/null UNIX-CONNECT:${q(path)} 2>&1; echo "RC=$?"`,
      judge: (ev) => judgeHostSocket(ev),
    });
  }
  return list;
}
