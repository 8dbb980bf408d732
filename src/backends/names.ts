// The one list of backends. Everything that enumerates or validates a
// backend name (registry, choice, doctor, metadata.json's schema) derives
// from it, so a new backend is added here and the type checker points at
// every place that must learn about it (the Record<BackendName, …> tables).
export const BACKEND_NAMES = ["docker", "smolmachines"] as const;

export type BackendName = (typeof BACKEND_NAMES)[number];
