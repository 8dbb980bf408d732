// How English-like a run of letters is: the mean, over its adjacent letter
// pairs, of log2(P(second | first) * 26) under letter-pair statistics of
// English technical text (scripts/gen-bigrams.ts made the table). Words,
// names and compounds score above 0 (natural text: about +1 bit per pair);
// letters drawn at random score about -2 (a random pair is usually a rare
// one), whatever alphabet encoded them. This is what tells a letters-only
// encoding of a random value (base32 with no digit, base26, a hex-free
// alphabet) from a long word, where counting digits and case switches
// cannot.

// 26 x 26, row = first letter; 'a' + 2 * (bits + 8).
const TABLE =
  "kprsllpjpfotqufpctsupqkknftnoounlispjtmisncrrlugelsismpmsmhtpgrrnhwncqntplefmftrmswmjmtinomlslcpqlqjjekbrnrtoqnllmhqqtkoluusioornesnposshdwbdphjvibspqrdfdoapmorvjnstfdpouppcrrorijciivninwigksbjjlktlarltrejajcppqppprdhgnspvtojostjnbpbmwgkrshggnghitkrmehutrjkbdbsnnmxlpltfinlnsofosoojlekftkkqvkkfvaitihtlairqpkjeqgvplnvgfhtfiosltucgpkoieikarmrttpuirimmlotmdittqmfelfloqsjqnimilqtvprauqqrppigguhnoulonramsjntqetrsqhhepmjinkljjgkfgsklikiplmzkhiffskqowmrftaompptkeqrrpmiepcqiqjvmjqscmnnkqqjotvrikeofrgoqvmfutoinoispasqqodliqforqnrnqcqcitqtisattuefbmejwglhxjjeuagiojqjbpmjifdidcuhklthjuwdnljptierqjicnddcqirltnkjrbknpglvekowkignmkponmpknioehvqrqveoutngmehjumkmxjjpthkqpnrifjminhjfnr";

const SCORE = new Float64Array(26 * 26);
for (let i = 0; i < SCORE.length; i++) SCORE[i] = (TABLE.charCodeAt(i) - 97) / 2 - 8;

// Mean bigram score and the number of letter pairs it is over (pairs that
// a digit or another character interrupts are skipped). Case-insensitive.
export function letterPairScore(s: string): { mean: number; pairs: number } {
  let sum = 0;
  let pairs = 0;
  let prev = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    const k = c >= 97 && c <= 122 ? c - 97 : -1;
    if (k >= 0 && prev >= 0) {
      sum += SCORE[prev * 26 + k]!;
      pairs++;
    }
    prev = k;
  }
  return { mean: pairs > 0 ? sum / pairs : 0, pairs };
}
