import { describe, expect, test } from "bun:test";
import { GUEST_CA_FILE, SYSTEM_CA_BUNDLE } from "../../../src/backends/guest.ts";
import { proxyEnv } from "../../../src/launch/inputs.ts";
import { TRUST_ENV } from "../../../src/launch/trust-env.ts";
import { RESERVED_ENV, TRUST_VARS } from "../../../src/manifest/resolve.ts";

describe("CA variables for toolchains", () => {
  test("every bottle gets each of them, pointing at the CA or the bundle", () => {
    const env = proxyEnv();
    for (const v of TRUST_VARS) expect([GUEST_CA_FILE, SYSTEM_CA_BUNDLE]).toContain(env[v] ?? "(unset)");
    // Node adds to its roots: the CA alone. npm's cafile replaces them: the bundle.
    expect(env.NODE_EXTRA_CA_CERTS).toBe(GUEST_CA_FILE);
    expect(env.NPM_CONFIG_CAFILE).toBe(SYSTEM_CA_BUNDLE);
    expect(Object.keys(TRUST_ENV).sort()).toEqual([...TRUST_VARS].sort());
  });

  test("a manifest cannot set them", () => {
    for (const v of TRUST_VARS) expect(RESERVED_ENV.has(v)).toBe(true);
  });
});
