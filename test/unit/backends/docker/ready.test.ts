import { describe, expect, test } from "bun:test";
import { isContainerPid, waitRelayOnHost, type ProcView } from "../../../../src/backends/docker/ready.ts";

// The host's look at a started bottle's relay, against a /proc whose files
// change as a real one would (the real engine: test/integration/docker).

const ID = "4cf721a69826bd60124be512da5894e2d10c3b66289e10155e42faa1eabdfba9";
const HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
// What /proc/<pid>/net/tcp shows once socat listens on 127.0.0.1:3128
// (taken from a real container of the agent image).
const LISTENING = HEAD + "   0: 0100007F:0C38 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 3199483 1 0000000008879834 100 0 0 10 0\n";
// Another socket on the port, not listening (an outgoing connection's TIME_WAIT).
const NOT_LISTENING = HEAD + "   0: 0100007F:0C38 0100007F:9C40 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0000000000000000\n";

function proc(files: Record<string, string | (() => string | null)>): ProcView & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    read(path) {
      reads.push(path);
      const f = files[path];
      return f === undefined ? null : typeof f === "function" ? f() : f;
    },
  };
}

const facts = { id: ID, pid: 4242, running: true };
const cgroupV1 = `9:name=systemd:/docker/${ID}\n8:pids:/docker/${ID}\n`;

describe("isContainerPid", () => {
  test("the pid's cgroup must name the container's full id (v1 and v2 layouts)", () => {
    expect(isContainerPid(facts, proc({ "/proc/4242/cgroup": cgroupV1 }))).toBe(true);
    expect(isContainerPid(facts, proc({ "/proc/4242/cgroup": `0::/system.slice/docker-${ID}.scope\n` }))).toBe(true);
    // An engine in a VM or another pid namespace: that pid is someone else here.
    expect(isContainerPid(facts, proc({ "/proc/4242/cgroup": "0::/user.slice/user-1000.slice/session-2.scope\n" }))).toBe(false);
    expect(isContainerPid(facts, proc({}))).toBe(false);
    expect(isContainerPid({ ...facts, pid: 0 }, proc({ "/proc/0/cgroup": cgroupV1 }))).toBe(false);
    expect(isContainerPid({ ...facts, id: "abc" }, proc({ "/proc/4242/cgroup": "abc" }))).toBe(false);
  });
});

describe("waitRelayOnHost", () => {
  test("listening once the table shows the relay in LISTEN, after polling through the start", async () => {
    let n = 0;
    const p = proc({ "/proc/4242/cgroup": cgroupV1, "/proc/4242/net/tcp": () => (++n < 4 ? (n === 2 ? NOT_LISTENING : HEAD) : LISTENING) });
    expect(await waitRelayOnHost(facts, { proc: p })).toBe("listening");
    expect(p.reads.filter((r) => r.endsWith("/net/tcp"))).toHaveLength(4);
  });

  test("exited: the first process went away and the engine says the bottle stopped (asked again until it does)", async () => {
    let gone = false;
    const p = proc({
      "/proc/4242/cgroup": () => (gone ? null : cgroupV1),
      "/proc/4242/stat": () => (gone ? null : "4242 (docker-init) S"),
      "/proc/4242/net/tcp": () => {
        gone = true;
        return null;
      },
    });
    let asked = 0;
    // The engine notices a moment after the process is gone.
    const refresh = async () => ({ ...facts, running: ++asked < 3 });
    expect(await waitRelayOnHost(facts, { proc: p, refresh })).toBe("exited");
    expect(asked).toBe(3);
    expect(await waitRelayOnHost({ ...facts, running: false }, { proc: proc({}) })).toBe("exited");
    // Gone before its cgroup could be read (the engine's answer was already
    // late): the same.
    expect(await waitRelayOnHost(facts, { proc: proc({}), refresh: async () => ({ ...facts, running: false }) })).toBe("exited");
    // Gone, but the engine cannot be asked, or keeps calling it running:
    // only an exec can tell.
    expect(await waitRelayOnHost(facts, { proc: proc({}) })).toBe("unknown");
    const t0 = Date.now();
    expect(await waitRelayOnHost(facts, { proc: proc({}), refresh: async () => facts })).toBe("unknown");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  test("unknown when the host cannot tell: no facts, not this container's pid, a table it may not read", async () => {
    expect(await waitRelayOnHost(null, { proc: proc({}) })).toBe("unknown");
    expect(await waitRelayOnHost(facts, { proc: proc({ "/proc/4242/cgroup": "0::/\n", "/proc/4242/stat": "4242 (bash) S", "/proc/4242/net/tcp": LISTENING }) })).toBe("unknown");
    expect(await waitRelayOnHost(facts, { proc: proc({ "/proc/4242/cgroup": cgroupV1, "/proc/4242/stat": "4242 (docker-init) S" }) })).toBe("unknown");
  });

  test("timeout when nothing listens in time; another port's listener is not the relay", async () => {
    const t0 = Date.now();
    const other = HEAD + "   0: 0100007F:0C39 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0\n";
    expect(await waitRelayOnHost(facts, { timeoutMs: 150, proc: proc({ "/proc/4242/cgroup": cgroupV1, "/proc/4242/net/tcp": other }) })).toBe("timeout");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });
});
