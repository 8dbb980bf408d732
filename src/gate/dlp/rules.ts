// Built-in credential rules.
//
// Each rule is found in two steps: the automaton finds one of its literal
// `anchors` (cheap, one table lookup per byte), then the rule's sticky regex
// is run at that position over a small window (`window` bytes from the
// anchor, the most the regex needs to decide). Every regex starts with its
// anchor, so a match always begins where the anchor does.
//
// Choices that keep ordinary prose and code clean:
//  - Tokens must have their full real length, not just a prefix: "xoxb-your-
//    token", "sk-ant-..." or "ghp_xxx" in documentation are not matches.
//  - `leftBoundary`: the anchor must not be glued to a preceding letter or
//    digit. Inside long base64 blobs (images, npm integrity hashes) any
//    four-letter anchor such as "AIza" occurs by chance every few MB; in
//    real leaks tokens follow a quote, space, `=` or `:`. Someone who wants
//    to evade a built-in rule can encode the token anyway: these rules catch
//    accidents, the bottle's own secrets are matched exactly in every
//    encoding (see variants.ts).
//  - `check`: extra tests for token shapes that prose can imitate (`sk-` +
//    48 letters): real keys are random, with upper case, lower case and
//    digits.
//  - No seed-phrase (BIP-39) rule: twelve common English words are ordinary
//    conversation, and the original system's detector blocked it.

export interface Rule {
  name: string;
  anchors: string[];
  // Sticky (`y`) regex that starts with one of the anchors.
  re: RegExp;
  // Bytes from the anchor start the regex may need to examine.
  window: number;
  leftBoundary?: boolean;
  // The whole match is one run of token characters ([A-Za-z0-9._+/=-]):
  // the verifier only hands the regex that run, so a chance anchor in
  // ordinary text ("sk-" in `"sk-"`) costs a few bytes, not a full window.
  contiguous?: boolean;
  // Cheap first test on the first 64 bytes for rules with a large window:
  // most anchor hits in ordinary text fail here.
  head?: RegExp;
  check?: (match: string) => boolean;
}

const JWT_IO_SAMPLE =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ";

const mixed = (s: string): boolean => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);
const hasDigitAndLetter = (s: string): boolean => /[0-9]/.test(s) && /[A-Za-z]/.test(s);

// Spellings of "secret access key" the AWS secret-key rule anchors on (the
// automaton is case-sensitive for speed; the regex itself is not).
const awsSecretKeywords = [
  "secret_access_key",
  "SECRET_ACCESS_KEY",
  "Secret_Access_Key",
  "secretAccessKey",
  "SecretAccessKey",
  "secretaccesskey",
  "SECRETACCESSKEY",
  "secret-access-key",
  "SECRET-ACCESS-KEY",
  "secret access key",
  "Secret access key",
  "Secret Access Key",
  "SECRET ACCESS KEY",
];

export const RULES: Rule[] = [
  {
    name: "aws-access-key",
    anchors: ["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
    re: /(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}/y,
    contiguous: true,
    window: 20,
    leftBoundary: true,
    // AWS's documentation key (AKIAIOSFODNN7EXAMPLE and friends) is in
    // every SDK's docs and tests, and is not a credential. Lowercase only
    // happens in host names (matched case-insensitively, where "asia" or
    // "acca" start ordinary words): there the rest must hold a digit, as
    // all but a few percent of real key ids do (the entropy check still
    // sees the letters-only ones).
    check: (m) => !m.toUpperCase().endsWith("EXAMPLE") && (m !== m.toLowerCase() || /[0-9]/.test(m.slice(4))),
  },
  {
    // A 40-character secret right after an "aws secret access key" label:
    // a bare 40-char base64 string is indistinguishable from a hash.
    name: "aws-secret-key",
    anchors: awsSecretKeywords,
    re: /secret[_ -]?access[_ -]?key[\\"']{0,3}\s{0,5}(?:[:=]|=>)?\s{0,5}[\\"']{0,3}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/iy,
    window: 100,
    check: (m) => !m.endsWith("EXAMPLEKEY"),
  },
  {
    name: "github-token",
    anchors: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    re: /gh[pousr]_[A-Za-z0-9]{36}/y,
    contiguous: true,
    window: 40,
    leftBoundary: true,
  },
  {
    name: "github-token",
    anchors: ["github_pat_"],
    re: /github_pat_[A-Za-z0-9_]{60}/y,
    contiguous: true,
    window: 71,
    leftBoundary: true,
  },
  {
    name: "anthropic-key",
    anchors: ["sk-ant-"],
    re: /sk-ant-[A-Za-z0-9_-]{32}/y,
    contiguous: true,
    window: 39,
    leftBoundary: true,
    check: (m) => /[0-9]/.test(m.slice(7)),
  },
  {
    // Legacy sk-<48 alnum>, project/service/admin keys, and anything with
    // the "T3BlbkFJ" marker (base64 of "OpenAI") that all OpenAI keys carry.
    name: "openai-key",
    anchors: ["sk-"],
    re: /sk-(?!ant-)(?:[A-Za-z0-9_-]{0,200}?T3BlbkFJ[A-Za-z0-9_-]{16}|(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40}|[A-Za-z0-9]{48}(?![A-Za-z0-9]))/y,
    contiguous: true,
    window: 240,
    leftBoundary: true,
    check: (m) => m.includes("T3BlbkFJ") || mixed(m.slice(3)),
  },
  {
    name: "slack-token",
    anchors: ["xoxa-", "xoxb-", "xoxe-", "xoxp-", "xoxr-", "xoxs-"],
    re: /xox[abeprs]-\d+-[A-Za-z0-9-]{8}/y,
    contiguous: true,
    window: 80,
    leftBoundary: true,
  },
  {
    name: "slack-token",
    anchors: ["xapp-"],
    re: /xapp-\d-[A-Z0-9]{8,16}-\d{1,16}-[a-z0-9]{16}/y,
    contiguous: true,
    window: 70,
    leftBoundary: true,
  },
  {
    name: "slack-webhook",
    anchors: ["hooks.slack.com/"],
    re: /hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/+-]{20}/y,
    contiguous: true,
    window: 50,
  },
  {
    name: "stripe-key",
    anchors: ["sk_live_", "rk_live_"],
    re: /[sr]k_live_[A-Za-z0-9]{20}/y,
    contiguous: true,
    window: 28,
    leftBoundary: true,
  },
  {
    // The header alone is too common in code that handles keys; a real key
    // has its base64 body right after (possibly with PEM headers, and with
    // newlines written as \n inside JSON strings).
    name: "private-key",
    anchors: ["-----BEGIN "],
    head: /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/y,
    re: /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:\s|\\+[rn]|(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset): [^\r\n\\]{0,120})*[A-Za-z0-9+/]{40}/y,
    window: 512,
  },
  {
    // A private key without its armour (the BEGIN line cut off, or the
    // base64 of its DER sent on its own): the first bytes of every private
    // key format's DER are fixed (version, algorithm), so their base64 is
    // too, at a fixed alignment (the body starts at byte 0). Anchored on
    // those characters for PKCS#8 (RSA, EC, Ed25519/X25519/Ed448/X448,
    // PBES2-encrypted), PKCS#1 RSA (1024-4096 bits), SEC1 EC (P-256, P-384,
    // P-521, secp256k1) and OpenSSH ("openssh-key-v1"), then 40 more
    // base64 characters (PEM line breaks allowed). Public keys and
    // certificates start differently.
    name: "private-key",
    anchors: [
      "IBADANBgkqhkiG9w0BAQEFAASC",
      "IBAAKCA",
      "IBAAKBgQ",
      "MHcCAQEEI",
      "MHQCAQEEI",
      "MIGkAgEBBD",
      "MIHcAgEBBE",
      "AgEAMBMGByqGSM49AgEG",
      "AgEAMBAGByqGSM49AgEG",
      "MC4CAQAwBQYDK2V",
      "MEcCAQAwBQYDK2Vx",
      "MEYCAQAwBQYDK2Vv",
      "BgkqhkiG9w0BBQ0w",
      "b3BlbnNzaC1rZXktdjE",
    ],
    re: /(?:IBADANBgkqhkiG9w0BAQEFAASC|IBAAK(?:CA[QYg]EA|BgQ)|MH[cQ]CAQEEI|MIGkAgEBBD|MIHcAgEBBE|AgEAMB[MA]GByqGSM49AgEG|MC4CAQAwBQYDK2V[wu]|MEcCAQAwBQYDK2Vx|MEYCAQAwBQYDK2Vv|BgkqhkiG9w0BBQ0w|b3BlbnNzaC1rZXktdjE)(?:(?:\r?\n|\\r\\n|\\n)?[A-Za-z0-9+/]){40}/y,
    window: 160,
  },
  {
    // Header and payload must both be base64 JSON objects ("eyJ" is
    // base64 of `{"`); the signature is not needed to recognise a token.
    name: "jwt",
    anchors: ["eyJ"],
    re: /eyJ[A-Za-z0-9_-]{10,512}\.eyJ[A-Za-z0-9_-]{10}[A-Za-z0-9_-]{0,80}/y,
    contiguous: true,
    window: 620,
    leftBoundary: true,
    // The jwt.io sample token ({"sub":"1234567890","name":"John Doe",
    // "iat":1516239022}) appears in countless docs and test suites.
    check: (m) => m !== JWT_IO_SAMPLE && !m.startsWith(JWT_IO_SAMPLE),
  },
  {
    name: "google-api-key",
    anchors: ["AIza"],
    re: /AIza[0-9A-Za-z_-]{35}/y,
    contiguous: true,
    window: 39,
    leftBoundary: true,
  },
  {
    name: "npm-token",
    anchors: ["npm_"],
    re: /npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])/y,
    contiguous: true,
    window: 41,
    leftBoundary: true,
    check: (m) => hasDigitAndLetter(m.slice(4)),
  },
  {
    name: "gitlab-token",
    anchors: ["glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glimt-", "glagent-", "glcbt-", "glsoat-"],
    re: /gl(?:pat|dt|rt|ptt|ft|imt|agent|cbt|soat)-[A-Za-z0-9_-]{20}/y,
    contiguous: true,
    window: 30,
    leftBoundary: true,
    check: (m) => hasDigitAndLetter(m.slice(m.indexOf("-") + 1)),
  },
  {
    name: "huggingface-token",
    anchors: ["hf_"],
    re: /hf_[A-Za-z0-9]{34}(?![A-Za-z0-9])/y,
    contiguous: true,
    window: 38,
    leftBoundary: true,
    check: (m) => mixed(m.slice(3)),
  },
  {
    name: "pypi-token",
    anchors: ["pypi-AgEIcHlwaS5vcmc"],
    re: /pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50}/y,
    contiguous: true,
    window: 70,
  },
  {
    name: "sendgrid-key",
    anchors: ["SG."],
    re: /SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/y,
    contiguous: true,
    window: 69,
    leftBoundary: true,
  },
  {
    name: "digitalocean-token",
    anchors: ["dop_v1_", "doo_v1_", "dor_v1_"],
    re: /do[por]_v1_[a-f0-9]{64}/y,
    contiguous: true,
    window: 71,
    leftBoundary: true,
  },
  {
    name: "shopify-token",
    anchors: ["shpat_", "shpca_", "shppa_", "shpss_"],
    re: /shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}/y,
    contiguous: true,
    window: 38,
    leftBoundary: true,
  },
  {
    name: "docker-hub-token",
    anchors: ["dckr_pat_"],
    re: /dckr_pat_[A-Za-z0-9_-]{27}/y,
    contiguous: true,
    window: 36,
    leftBoundary: true,
  },
  {
    name: "age-secret-key",
    anchors: ["AGE-SECRET-KEY-1"],
    re: /AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}/y,
    contiguous: true,
    window: 74,
  },
  {
    name: "databricks-token",
    anchors: ["dapi"],
    re: /dapi[a-f0-9]{32}(?![a-f0-9])/y,
    contiguous: true,
    window: 37,
    leftBoundary: true,
    check: hasDigitAndLetter,
  },
  {
    name: "square-token",
    anchors: ["sq0atp-", "sq0csp-"],
    re: /sq0(?:atp-[0-9A-Za-z_-]{22}|csp-[0-9A-Za-z_-]{43})/y,
    contiguous: true,
    window: 50,
    leftBoundary: true,
  },
  {
    name: "linear-key",
    anchors: ["lin_api_"],
    re: /lin_api_[A-Za-z0-9]{40}/y,
    contiguous: true,
    window: 48,
    leftBoundary: true,
  },
  {
    name: "azure-storage-key",
    anchors: ["AccountKey="],
    re: /AccountKey=[A-Za-z0-9+/]{86}==/y,
    contiguous: true,
    window: 99,
  },
];
