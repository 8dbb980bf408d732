// Prints the top-level usage exactly as citty renders it, with colour, for
// the build to bake into the binary (compile.ts, BUILD_HELP in src/cli.ts).
// Run by compile.ts in a child with no NO_COLOR, TERM, TEST or CI: citty
// decides colour once, when it is imported, from those.
import { renderTopUsage } from "../../src/commands/main.ts";

process.stdout.write(await renderTopUsage());
