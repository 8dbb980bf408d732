// The one place that loads @peculiar/x509, for tests only: a second reader
// of the certificates src/gate/tls/der.ts writes, and the maker of test
// upstreams' certificates. Its dependency tsyringe checks for the
// reflect-metadata API while loading, and Bun evaluates a CommonJS package
// imported from ESM before this module's body runs, so a static import
// would beat the polyfill: install the polyfill, then require().
import "./reflect-metadata.ts";
import type * as X509 from "@peculiar/x509";

export const x509: typeof X509 = require("@peculiar/x509");
