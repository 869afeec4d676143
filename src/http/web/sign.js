// The browser's half of the node's signed documents: RFC 8785 canonical JSON and
// W3C Data Integrity `eddsa-jcs-2022` proofs made with an Ed25519 key that WebCrypto
// holds, byte for byte as the node's own crypto module makes and checks them (the
// suite signs the W3C test vector and orders with it in Chromium). A page that signs
// loads this file; nothing here touches the page or the network. It also holds the
// byte helpers the market's scripts share: hex, a refusal's words, and SHA-256 fed in
// pieces for files too large to hold in memory at once.
"use strict";

(function () {
  const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  // Multicodec prefixes of an Ed25519 public key (did:key, publicKeyMultibase) and of
  // its 32-byte seed (privateKeyMultibase).
  const ED25519_PUBLIC = [0xed, 0x01];
  const ED25519_SEED = [0x80, 0x26];
  // PKCS #8 wrapping of a 32-byte Ed25519 seed (RFC 8410), the form WebCrypto imports.
  const PKCS8_SEED_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

  function concat(...parts) {
    const joined = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    return joined;
  }

  /** Base58btc, as multibase `z` values and did:key use it. */
  function base58(bytes) {
    let zeros = 0;
    while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
    const digits = [];
    for (let k = zeros; k < bytes.length; k++) {
      let carry = bytes[k];
      for (let i = 0; i < digits.length; i++) {
        carry += digits[i] * 256;
        digits[i] = carry % 58;
        carry = Math.floor(carry / 58);
      }
      while (carry > 0) {
        digits.push(carry % 58);
        carry = Math.floor(carry / 58);
      }
    }
    return "1".repeat(zeros) + digits.reverse().map((digit) => BASE58[digit]).join("");
  }

  /** Decodes base58btc; refuses any other character. */
  function fromBase58(text) {
    const bytes = [];
    for (const character of text) {
      let carry = BASE58.indexOf(character);
      if (carry < 0) throw new Error("not base58btc: " + character);
      for (let i = 0; i < bytes.length; i++) {
        carry += bytes[i] * 58;
        bytes[i] = carry & 0xff;
        carry >>= 8;
      }
      while (carry > 0) {
        bytes.push(carry & 0xff);
        carry >>= 8;
      }
    }
    let zeros = 0;
    while (zeros < text.length && text[zeros] === "1") zeros++;
    return concat(new Uint8Array(zeros), Uint8Array.from(bytes.reverse()));
  }

  /** The bytes after `prefix` in a multibase `z` value, which must start with it. */
  function multibase(value, prefix) {
    if (typeof value !== "string" || value[0] !== "z") throw new Error("not a base58btc multibase value");
    const bytes = fromBase58(value.slice(1));
    if (bytes.length !== prefix.length + 32 || prefix.some((byte, i) => bytes[i] !== byte)) {
      throw new Error("not an Ed25519 key of the expected kind");
    }
    return bytes.slice(prefix.length);
  }

  function fromBase64Url(text) {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (character) => character.charCodeAt(0));
  }

  /** RFC 8785: members sorted by their UTF-16 code units, values as ECMAScript writes them. */
  function canonicalize(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new Error("JSON has no " + value);
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return "[" + value.map(canonicalize).join(",") + "]";
    if (typeof value === "object") {
      const members = Object.keys(value)
        .sort()
        .map((name) => JSON.stringify(name) + ":" + canonicalize(value[name]));
      return "{" + members.join(",") + "}";
    }
    throw new Error("not a JSON value: " + typeof value);
  }

  // The node refuses floats in signed documents: two JSON libraries may print one
  // differently, and then a signature no longer verifies.
  function refuseFloats(value) {
    if (typeof value === "number" && !Number.isInteger(value)) throw new Error("signed documents hold no fractions: " + value);
    if (value !== null && typeof value === "object") Object.values(value).forEach(refuseFloats);
  }

  async function sha256(text) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  }

  const hex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

  /** What a refusal says: an RFC 9457 problem's detail (or title) where the body is one. */
  function refusal(status, text) {
    try {
      const problem = JSON.parse(text);
      return problem.detail || problem.title || String(status);
    } catch (error) {
      return String(status);
    }
  }

  // SHA-256 round constants and initial state (FIPS 180-4 §4.2.2, §5.3.3): the first 32
  // bits of the fractional parts of the cube and square roots of the first primes.
  const PRIMES = [];
  for (let candidate = 2; PRIMES.length < 64; candidate++) {
    if (PRIMES.every((prime) => candidate % prime !== 0)) PRIMES.push(candidate);
  }
  const fraction32 = (root) => Math.floor((root - Math.floor(root)) * 0x100000000) >>> 0;
  const ROUND = Uint32Array.from(PRIMES, (prime) => fraction32(Math.cbrt(prime)));
  const INITIAL = Uint32Array.from(PRIMES.slice(0, 8), (prime) => fraction32(Math.sqrt(prime)));

  /**
   * SHA-256 fed in pieces (`update`, then `digest` once): WebCrypto digests only a whole
   * buffer, and a file of gigabytes cannot be read into memory at once.
   */
  function sha256Stream() {
    const state = Uint32Array.from(INITIAL);
    const schedule = new Uint32Array(64);
    const pending = new Uint8Array(64);
    let pendingLength = 0;
    let total = 0;

    function compress(bytes, at) {
      const w = schedule;
      for (let i = 0; i < 16; i++, at += 4) w[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
      for (let i = 16; i < 64; i++) {
        const x = w[i - 15];
        const y = w[i - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, h] = state;
      for (let i = 0; i < 64; i++) {
        const sum1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const choice = (e & f) ^ (~e & g);
        const t1 = (h + sum1 + choice + ROUND[i] + w[i]) | 0;
        const sum0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const majority = (a & b) ^ (a & c) ^ (b & c);
        h = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + sum0 + majority) | 0;
      }
      state[0] += a;
      state[1] += b;
      state[2] += c;
      state[3] += d;
      state[4] += e;
      state[5] += f;
      state[6] += g;
      state[7] += h;
    }

    return {
      update(bytes) {
        total += bytes.length;
        let at = 0;
        if (pendingLength > 0) {
          at = Math.min(64 - pendingLength, bytes.length);
          pending.set(bytes.subarray(0, at), pendingLength);
          pendingLength += at;
          if (pendingLength < 64) return;
          compress(pending, 0);
          pendingLength = 0;
        }
        for (; at + 64 <= bytes.length; at += 64) compress(bytes, at);
        pending.set(bytes.subarray(at), 0);
        pendingLength = bytes.length - at;
      },
      digest() {
        const tail = new Uint8Array(pendingLength < 56 ? 64 : 128);
        tail.set(pending.subarray(0, pendingLength));
        tail[pendingLength] = 0x80;
        const view = new DataView(tail.buffer);
        const bits = total * 8;
        view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
        view.setUint32(tail.length - 4, bits >>> 0);
        for (let at = 0; at < tail.length; at += 64) compress(tail, at);
        const out = new DataView(new ArrayBuffer(32));
        state.forEach((word, i) => out.setUint32(4 * i, word));
        return new Uint8Array(out.buffer);
      },
    };
  }

  /** A raw 32-byte Ed25519 public key as `publicKeyMultibase` (and a did:key's tail). */
  function publicMultibase(publicKey) {
    return "z" + base58(concat(ED25519_PUBLIC, publicKey));
  }

  /** The `did:key` of a raw 32-byte Ed25519 public key. */
  function didKey(publicKey) {
    return "did:key:" + publicMultibase(publicKey);
  }

  /** A time as signed documents write it: RFC 3339, whole seconds, UTC. */
  function timestamp(date) {
    return (date || new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** A new key pair, its private half extractable only so it can be saved as a key file. */
  async function generateKey() {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return { privateKey: pair.privateKey, publicKey };
  }

  /** The signing key of a 32-byte seed (the form key files hold), with its raw public key. */
  async function importSeed(seed, publicKey, extractable) {
    const privateKey = await crypto.subtle.importKey("pkcs8", concat(PKCS8_SEED_PREFIX, seed), { name: "Ed25519" }, Boolean(extractable), ["sign"]);
    return { privateKey, publicKey };
  }

  /**
   * The key as the key file `shulian keygen` writes (W3C Multikey JSON). The key must have
   * been made extractable: a buyer's key leaves the browser only when they save it.
   */
  async function exportKeyFile(key) {
    const jwk = await crypto.subtle.exportKey("jwk", key.privateKey);
    return {
      publicKeyMultibase: publicMultibase(key.publicKey),
      privateKeyMultibase: "z" + base58(concat(ED25519_SEED, fromBase64Url(jwk.d))),
    };
  }

  /** The key of a key file `shulian keygen` wrote (or `exportKeyFile` gave); its halves must match. */
  async function importKeyFile(file) {
    const seed = multibase(file.privateKeyMultibase, ED25519_SEED);
    const publicKey = multibase(file.publicKeyMultibase, ED25519_PUBLIC);
    const key = await importSeed(seed, publicKey, true);
    const probe = new TextEncoder().encode("shulian key file");
    const verifier = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, probe);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, verifier, signature, probe))) {
      throw new Error("the key file's public key is not its private key's");
    }
    return key;
  }

  /**
   * `document` with an eddsa-jcs-2022 proof by `key` ({privateKey, publicKey}) made at
   * `created`. The proof names the key as its did:key, as the node's documents do, unless
   * another `verificationMethod` is given (the W3C example names an issuer's URL).
   */
  async function signDocument(document, key, created, verificationMethod) {
    const unsigned = Object.assign({}, document);
    delete unsigned.proof;
    refuseFloats(unsigned);
    const proof = {
      type: "DataIntegrityProof",
      cryptosuite: "eddsa-jcs-2022",
      created: created,
      verificationMethod: verificationMethod || didKey(key.publicKey) + "#" + publicMultibase(key.publicKey),
      proofPurpose: "assertionMethod",
    };
    if ("@context" in unsigned) proof["@context"] = unsigned["@context"];
    const hashData = concat(await sha256(canonicalize(proof)), await sha256(canonicalize(unsigned)));
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, hashData));
    proof.proofValue = "z" + base58(signature);
    unsigned.proof = proof;
    return unsigned;
  }

  window.shulianSigning = Object.freeze({
    base58, canonicalize, didKey, timestamp, generateKey, importSeed, exportKeyFile, importKeyFile, signDocument, sha256,
    hex, refusal, sha256Stream,
  });
})();
