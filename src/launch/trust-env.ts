import { GUEST_CA_FILE, SYSTEM_CA_BUNDLE } from "../backends/guest.ts";
import type { TrustVar } from "../manifest/resolve.ts";

// The variables common toolchains read for their trusted CAs, so every
// client in the bottle trusts the gate (which terminates TLS with the
// bottle's CA) with no user action. SYSTEM_CA_BUNDLE is the image's bundle
// plus the bottle's CA; GUEST_CA_FILE is the bottle's CA alone. Each entry
// says which client reads it and whether it adds to or replaces the roots,
// from the client's documentation.
export const TRUST_ENV: Readonly<Record<TrustVar, string>> = {
  // Node: extra CAs added to the bundled roots (the CA alone is enough).
  NODE_EXTRA_CA_CERTS: GUEST_CA_FILE,
  // npm: `cafile` REPLACES the roots, and an npmrc that sets it makes npm
  // ignore NODE_EXTRA_CA_CERTS, so the whole bundle (npm config docs).
  NPM_CONFIG_CAFILE: SYSTEM_CA_BUNDLE,
  // OpenSSL's default verify file: Python's ssl, Ruby, Go, curl on OpenSSL.
  SSL_CERT_FILE: SYSTEM_CA_BUNDLE,
  // Python requests (and pip, which also honours it).
  REQUESTS_CA_BUNDLE: SYSTEM_CA_BUNDLE,
  // curl (and libcurl users that read it, e.g. pip's fallback).
  CURL_CA_BUNDLE: SYSTEM_CA_BUNDLE,
  // git over https (http.sslCAInfo).
  GIT_SSL_CAINFO: SYSTEM_CA_BUNDLE,
  // pip's --cert (pip "HTTPS Certificates").
  PIP_CERT: SYSTEM_CA_BUNDLE,
  // cargo's http.cainfo.
  CARGO_HTTP_CAINFO: SYSTEM_CA_BUNDLE,
  // Deno: "load certificate authority from PEM encoded file".
  DENO_CERT: SYSTEM_CA_BUNDLE,
};
