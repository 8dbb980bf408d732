import { describe, expect, test } from "bun:test";
import { isForbiddenAddress } from "../../../../src/gate/policy/ssrf.ts";

describe("isForbiddenAddress", () => {
  const forbidden: [string, string][] = [
    ["127.0.0.1", "loopback address"],
    ["127.255.255.254", "loopback address"],
    ["10.0.0.1", "private address (RFC 1918)"],
    ["172.16.0.1", "private address (RFC 1918)"],
    ["172.31.255.255", "private address (RFC 1918)"],
    ["192.168.1.1", "private address (RFC 1918)"],
    ["100.64.0.1", "shared address space (CGNAT, RFC 6598)"],
    ["100.127.255.255", "shared address space (CGNAT, RFC 6598)"],
    ["169.254.169.254", "cloud metadata address"],
    ["169.254.1.1", "link-local address"],
    ["0.0.0.0", "unspecified / this-network address"],
    ["0.1.2.3", "unspecified / this-network address"],
    ["255.255.255.255", "broadcast address"],
    ["224.0.0.1", "multicast address"],
    ["239.255.255.250", "multicast address"],
    ["240.0.0.1", "reserved address (240/4)"],
    ["192.0.2.1", "documentation address (TEST-NET-1)"],
    ["198.18.0.1", "benchmarking address (RFC 2544)"],
    ["2130706433", "loopback address"], // inet_aton spelling
    ["::", "unspecified address"],
    ["::1", "loopback address"],
    ["[::1]", "loopback address"],
    ["0:0:0:0:0:0:0:1", "loopback address"],
    ["fe80::1", "link-local address"],
    ["febf::1", "link-local address"],
    ["fc00::1", "unique local address"],
    ["fd12:3456::1", "unique local address"],
    ["ff02::1", "multicast address"],
    ["fec0::1", "site-local address (deprecated)"],
    ["::ffff:127.0.0.1", "IPv4-mapped address of 127.0.0.1: loopback address"],
    ["::ffff:7f00:1", "IPv4-mapped address of 127.0.0.1: loopback address"],
    ["::ffff:169.254.169.254", "IPv4-mapped address of 169.254.169.254: cloud metadata address"],
    ["::ffff:10.1.2.3", "IPv4-mapped address of 10.1.2.3: private address (RFC 1918)"],
    ["::127.0.0.1", "IPv4-compatible address of 127.0.0.1: loopback address"],
    ["::8.8.8.8", "IPv4-compatible address (deprecated)"],
    ["::ffff:0:10.0.0.1", "IPv4-translated address of 10.0.0.1: private address (RFC 1918)"],
    ["64:ff9b::127.0.0.1", "NAT64 address of 127.0.0.1: loopback address"],
    ["64:ff9b:1::1", "local-use NAT64 address"],
    ["2002:7f00:1::", "6to4 address of 127.0.0.1: loopback address"],
    ["2002:a00:1::1", "6to4 address of 10.0.0.1: private address (RFC 1918)"],
    ["2001:0:4136:e378::1", "Teredo address"],
    ["2001:db8::1", "documentation address"],
    ["100::1", "discard-only address"],
    ["not-an-ip", "not an IP address"],
    ["", "not an IP address"],
    ["1.2.3.4.5", "not an IP address"],
  ];
  for (const [ip, reason] of forbidden) {
    test(`${ip || "(empty)"} -> ${reason}`, () => expect(isForbiddenAddress(ip)).toBe(reason));
  }
  const publicIps = ["8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255", "223.255.255.255", "160.79.104.10", "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"];
  for (const ip of publicIps) {
    test(`${ip} is public`, () => expect(isForbiddenAddress(ip)).toBeNull());
  }
});
