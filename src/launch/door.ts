import type { AddressInfo } from "node:net";
import type { Backend, LaunchContext } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import { newDoorToken } from "../gate/door.ts";
import type { PlanJson } from "../plan/types.ts";

// The bridge door at launch (backends/door.ts, docs/design/docker-desktop.md):
// a fresh token for this run, and the gate's TCP port on the address the
// plan names. Both go to the gate in its GateSecrets (stdin) and to the
// backend's bridge container (the token by env name). A resumed bottle
// gets a new token and port: its bridge is created anew.

export type BridgeDoor = NonNullable<LaunchContext["door"]>;

export async function prepareBridgeDoor(plan: PlanJson, backend: Backend): Promise<BridgeDoor | null> {
  const d = plan.door;
  if (d?.kind !== "bridge") return null;
  if (!backend.doorKeeper) throw new UserError(`the bridge door needs the docker backend, not ${backend.name}`);
  if (!d.gate_listen) throw new UserError("the plan has no address for the gate's door; run 'claude-bottle doctor' to see why");
  return { token: newDoorToken(), gate: { host: d.gate_listen, port: await freePort(d.gate_listen) }, addHost: d.add_host };
}

// A port free on host right now. The gate binds it a moment later (and
// again on every restart, so the bridge keeps dialling the same one); the
// window in between is small, and a taken port fails the start loudly.
// node:net is loaded here, for the bridge door only: importing it costs
// every `up` about 2 ms of start-up.
export async function freePort(host: string): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", (e: NodeJS.ErrnoException) =>
      reject(new UserError(`the gate cannot listen on ${host} for the bridge door (${e.code ?? e.message}); run 'claude-bottle doctor'`)),
    );
    s.listen(0, host, () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
