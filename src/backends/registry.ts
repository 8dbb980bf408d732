import { BACKEND_NAMES, type BackendName } from "./names.ts";
import type { Backend } from "./types.ts";

// Backend name -> implementation, loaded lazily: `ls` on a docker-only
// machine never loads the smolvm code and vice versa. The choice of backend
// for `up` (flag > env > auto) lives in select.ts; commands that act on an
// existing bottle use the backend recorded in its metadata.
const loaders: Record<BackendName, () => Promise<Backend>> = {
  docker: async () => (await import("./docker/index.ts")).createDockerBackend(),
  smolmachines: async () => {
    const [{ createSmolmachinesBackend }, { sharedWiring }] = await Promise.all([import("./smolmachines/index.ts"), import("./smolmachines/wiring.ts")]);
    // The docker-built agent image (for bottles without `image:`); see
    // smolmachines/wiring.ts.
    return createSmolmachinesBackend(sharedWiring(process.env));
  },
};

const cache = new Map<BackendName, Promise<Backend>>();

export function getBackend(name: BackendName): Promise<Backend> {
  let b = cache.get(name);
  if (!b) {
    b = loaders[name]();
    cache.set(name, b);
  }
  return b;
}

// The backends that can answer here (for `ls`, `cleanup`, and `down` of a
// bottle without metadata): a backend whose tool is missing holds no bottle.
// The command each backend drives; on PATH means "installed".
const TOOL: Record<BackendName, string> = { docker: "docker", smolmachines: "smolvm" };

export async function installedBackends(env: Record<string, string | undefined> = process.env): Promise<{ name: BackendName; backend: Backend }[]> {
  const out: { name: BackendName; backend: Backend }[] = [];
  for (const name of BACKEND_NAMES) {
    if (!Bun.which(TOOL[name], { PATH: env.PATH ?? "" })) continue;
    try {
      out.push({ name, backend: await getBackend(name) });
    } catch {
      // fails to load: treat as absent
    }
  }
  return out;
}

export async function usableBackends(): Promise<{ name: BackendName; backend: Backend }[]> {
  const out: { name: BackendName; backend: Backend }[] = [];
  const { probeBackendAsync } = await import("./select.ts");
  for (const name of BACKEND_NAMES) {
    if (!(await probeBackendAsync(name)).usable) continue;
    try {
      out.push({ name, backend: await getBackend(name) });
    } catch {
      // fails to load: treat as absent
    }
  }
  return out;
}
