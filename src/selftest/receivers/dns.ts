import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import { latin1, type ArrivalLog } from "./record.ts";

// A DNS server that records every query it gets, over UDP and TCP, on one
// address. It answers A/AAAA for the names it is given (so it can serve as
// the only resolver of a sandbox under test) and NXDOMAIN for the rest: a
// name that reaches it has left the sandbox either way, and the name itself
// is the leak (a key spelled as a label). Packets are parsed and built with
// dns-packet, not by hand; a datagram that is not DNS is still recorded.

export interface DnsRecorder {
  host: string;
  port: number;
  stop(): void;
}

export type DnsAnswers = (name: string) => { A?: string; AAAA?: string } | null;

function reply(query: Buffer, answers: DnsAnswers): { text: string; response: Buffer | null } {
  let q: dnsPacket.DecodedPacket;
  try {
    q = dnsPacket.decode(query);
  } catch {
    return { text: `not DNS: ${latin1(query)}`, response: null };
  }
  const questions = q.questions ?? [];
  const text = questions.map((x) => `${x.type} ${x.name}`).join("\n");
  const found = questions.flatMap((x) => {
    const a = answers(x.name.toLowerCase());
    const data = x.type === "A" ? a?.A : x.type === "AAAA" ? a?.AAAA : undefined;
    return data ? [{ type: x.type, name: x.name, ttl: 1, class: "IN" as const, data }] : [];
  });
  const response = dnsPacket.encode({
    type: "response",
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (found.length === 0 ? 3 : 0), // rcode 3: NXDOMAIN
    questions,
    answers: found as dnsPacket.Answer[],
  });
  return { text, response };
}

// `port`: a fixed port (53, for a recorder the host's resolv.conf names);
// default: one the kernel picks.
type DnsOpts = { host: string; port?: number; label: string; log: ArrivalLog; answers: DnsAnswers };

// UDP and TCP on the same port number, like a real server: the UDP port is
// picked by the kernel, so the TCP side may find it taken; try again.
export async function startDnsRecorder(opts: DnsOpts): Promise<DnsRecorder> {
  let last: unknown;
  for (let i = 0; i < (opts.port ? 1 : 10); i++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

async function startOnce(opts: DnsOpts): Promise<DnsRecorder> {
  const family = net.isIPv6(opts.host) ? "udp6" : "udp4";
  const udp = dgram.createSocket({ type: family, ipv6Only: family === "udp6" });
  udp.on("message", (msg, rinfo) => {
    const r = reply(msg, opts.answers);
    opts.log.add({ kind: "dns", receiver: `dns ${opts.label} (udp)`, from: rinfo.address, text: r.text, bytes: msg.length });
    if (r.response) udp.send(r.response, rinfo.port, rinfo.address);
  });
  udp.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(opts.port ?? 0, opts.host, () => resolve());
  });
  const port = udp.address().port;
  // DNS over TCP on the same port number: two-byte length framing.
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on("error", () => {});
    s.on("data", (d) => {
      buf = Buffer.concat([buf, d as Buffer]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const r = reply(msg, opts.answers);
        opts.log.add({ kind: "dns", receiver: `dns ${opts.label} (tcp)`, from: s.remoteAddress ?? "", text: r.text, bytes: msg.length + 2 });
        if (r.response) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(r.response.length);
          s.write(Buffer.concat([len, r.response]));
        }
      }
    });
    s.on("end", () => {
      if (buf.length > 0) opts.log.add({ kind: "dns", receiver: `dns ${opts.label} (tcp)`, from: s.remoteAddress ?? "", text: `not DNS: ${latin1(buf)}` });
      s.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, opts.host, () => resolve());
  }).catch((e) => {
    udp.close();
    throw e;
  });
  return {
    host: opts.host,
    port,
    stop: () => {
      udp.close();
      tcp.close();
    },
  };
}
