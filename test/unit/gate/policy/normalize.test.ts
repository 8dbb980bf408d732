import { describe, expect, test } from "bun:test";
import { normalizeHost, splitHostPort } from "../../../../src/gate/policy/normalize.ts";

describe("normalizeHost: names", () => {
  const ok: [string, string][] = [
    ["api.anthropic.com", "api.anthropic.com"],
    ["API.Anthropic.COM", "api.anthropic.com"],
    ["example.com.", "example.com"],
    ["münchen.de", "xn--mnchen-3ya.de"],
    ["MÜNCHEN.DE", "xn--mnchen-3ya.de"],
    ["xn--mnchen-3ya.de", "xn--mnchen-3ya.de"],
    ["ex\u3002com", "ex.com"], // ideographic full stop is a dot under UTS #46
    ["localhost", "localhost"],
    ["_dmarc.example.com", "_dmarc.example.com"],
    ["a-b.c-d.e", "a-b.c-d.e"],
    ["r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"],
    [`${"a".repeat(63)}.com`, `${"a".repeat(63)}.com`],
  ];
  test("a name whose last label is not a number stays a name", () => {
    expect(normalizeHost("1.2.3.0x1g")).toEqual({ ok: true, host: "1.2.3.0x1g", isIp: false, ipVersion: 0 });
  });
  for (const [input, want] of ok) {
    test(`${JSON.stringify(input)} -> ${want}`, () => {
      expect(normalizeHost(input)).toEqual({ ok: true, host: want, isIp: false, ipVersion: 0 });
    });
  }

  const longName = Array.from({ length: 50 }, () => "abcd").join("."); // 249 chars
  test("253-char names pass, 254 fail", () => {
    expect(normalizeHost(longName + ".xyz").ok).toBe(true); // 253
    expect(normalizeHost(longName + ".xyzw")).toEqual({ ok: false, reason: "host name too long" });
  });

  const bad: [string, string][] = [
    ["", "empty host"],
    [".", "empty host"],
    ["user@example.com", "invalid character in host: @"],
    ["example.com@evil.com", "invalid character in host: @"],
    ["a..b.com", "empty label in host"],
    [".example.com", "empty label in host"],
    ["example.com..", "empty label in host"],
    ["exa mple.com", "invalid character in host: space"],
    ["example.com\t", "invalid character in host: control character U+0009"],
    ["exa\u0000mple.com", "invalid character in host: control character U+0000"],
    ["exa\u0085mple.com", "invalid character in host: control character U+0085"],
    ["ex\u3000ample.com", "invalid character in host: whitespace U+3000"],
    ["ex%61mple.com", "invalid character in host: %"],
    ["example.com\\evil.com", "invalid character in host: \\"],
    ["example.com/evil", "invalid character in host: /"],
    ["example.com?x", "invalid character in host: ?"],
    ["example.com#x", "invalid character in host: #"],
    [`${"a".repeat(64)}.com`, "host label too long"],
    ["-foo.com", "host label starts or ends with a hyphen"],
    ["foo-.com", "host label starts or ends with a hyphen"],
    ["foo!.com", "invalid character in host label"],
    ["xn--zz.com", "invalid international domain name"],
    ["a".repeat(2000), "host name too long"],
    ["example.com:443", "invalid IPv6 literal"],
    ["[example.com]", "invalid IPv6 literal"],
    ["[::1", "unbalanced brackets in host"],
    ["exa]mple.com", "invalid character in host: ["],
  ];
  for (const [input, reason] of bad) {
    test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
      expect(normalizeHost(input)).toEqual({ ok: false, reason });
    });
  }
});

describe("normalizeHost: IPv4 literals in every spelling curl/inet_aton accept", () => {
  const cases: [string, string][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["127.0.0.1.", "127.0.0.1"],
    ["2130706433", "127.0.0.1"],
    ["0x7f000001", "127.0.0.1"],
    ["0x7f.1", "127.0.0.1"],
    ["0X7F.0.0.1", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["0177.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["127.0.1", "127.0.0.1"],
    ["10.1.65535", "10.1.255.255"],
    ["169.254.43518", "169.254.169.254"],
    ["0", "0.0.0.0"],
    ["0x", "0.0.0.0"],
    ["4294967295", "255.255.255.255"],
    ["00000000000000000001.2.3.4", "1.2.3.4"],
    ["１２７.0.0.1", "127.0.0.1"], // fullwidth digits map to ASCII under IDNA
  ];
  for (const [input, want] of cases) {
    test(`${input} -> ${want}`, () => {
      expect(normalizeHost(input)).toEqual({ ok: true, host: want, isIp: true, ipVersion: 4 });
    });
  }
  const bad = ["256.0.0.1", "1.2.3.4.5", "4294967296", "0x100000000", "08.1.1.1", "1.256.1", "example.123", "1..2"];
  for (const input of bad) {
    test(`rejects ${input}`, () => {
      const r = normalizeHost(input);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/invalid IPv4 literal|empty label/);
    });
  }
});

describe("normalizeHost: IPv6 literals", () => {
  const cases: [string, string][] = [
    ["[::1]", "::1"],
    ["::1", "::1"],
    ["[0:0:0:0:0:0:0:1]", "::1"],
    ["[2001:DB8:0:0:0:0:0:1]", "2001:db8::1"],
    ["[2001:db8:0:0:1:0:0:1]", "2001:db8::1:0:0:1"], // first of equal runs
    ["[2001:db8:0:1:1:1:1:1]", "2001:db8:0:1:1:1:1:1"], // single zero group not compressed
    ["[2001:0db8::0001]", "2001:db8::1"],
    ["[::]", "::"],
    ["[::ffff:127.0.0.1]", "::ffff:127.0.0.1"],
    ["[::ffff:7f00:1]", "::ffff:127.0.0.1"],
    ["[::FFFF:a9fe:a9fe]", "::ffff:169.254.169.254"],
    ["[64:ff9b::1.2.3.4]", "64:ff9b::102:304"],
    ["[fe80::1]", "fe80::1"],
  ];
  for (const [input, want] of cases) {
    test(`${input} -> ${want}`, () => {
      expect(normalizeHost(input)).toEqual({ ok: true, host: want, isIp: true, ipVersion: 6 });
    });
  }
  const bad = ["[fe80::1%eth0]", "[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[12345::]", "[::ffff:1.2.3]", "[::ffff:01.2.3.4]", "[g::]", "[:1]", "[1:2:3:4:5:6:7::8]x"];
  for (const input of bad) {
    test(`rejects ${input}`, () => {
      expect(normalizeHost(input).ok).toBe(false);
    });
  }
});

describe("splitHostPort", () => {
  const cases: [string, number | null, { host: string; port: number } | null][] = [
    ["api.x.com:443", null, { host: "api.x.com", port: 443 }],
    ["api.x.com", 80, { host: "api.x.com", port: 80 }],
    ["api.x.com", null, null],
    ["[::1]:8080", null, { host: "[::1]", port: 8080 }],
    ["[::1]", 443, { host: "[::1]", port: 443 }],
    ["::1:443", null, null],
    ["api.x.com:0", null, null],
    ["api.x.com:65536", null, null],
    ["api.x.com:+443", null, null],
    ["api.x.com:", null, null],
    [":443", null, null],
    ["[::1]x", null, null],
  ];
  for (const [input, def, want] of cases) {
    test(`${input} (default ${def})`, () => expect(splitHostPort(input, def)).toEqual(want));
  }
});
