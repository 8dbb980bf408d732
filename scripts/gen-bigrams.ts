// Regenerates the letter-bigram table in src/gate/dlp/bigrams.ts.
//
//   bun scripts/gen-bigrams.ts FILE...   prints the table
//
// The committed table was made from the English text a Debian machine
// carries (/usr/share/common-licenses/* and the README, NEWS and changelog
// files under /usr/share/doc, about 220 MB): prose, package names and
// technical words, which is what host names and URL words are made of.
// Each entry is log2(P(next letter | letter) * 26), add-one-half smoothed,
// in half-bit steps from -8 ('a') to +4.5 ('z').
import { readFileSync } from "node:fs";

const counts = Array.from({ length: 26 }, () => new Array<number>(26).fill(0));
for (const f of process.argv.slice(2)) {
  for (const w of readFileSync(f, "latin1").toLowerCase().split(/[^a-z]+/)) {
    for (let i = 1; i < w.length; i++) counts[w.charCodeAt(i - 1) - 97]![w.charCodeAt(i) - 97]!++;
  }
}
let table = "";
for (const row of counts) {
  const total = row.reduce((a, b) => a + b, 0);
  for (const n of row) {
    const bits = Math.log2(((n + 0.5) / (total + 13)) * 26);
    table += String.fromCharCode(97 + Math.max(0, Math.min(25, Math.round((bits + 8) * 2))));
  }
}
console.log(table);
