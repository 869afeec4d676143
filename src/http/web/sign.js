// The browser's half of the node's signed documents: RFC 8785 canonical JSON and
// W3C Data Integrity `eddsa-jcs-2022` proofs made with an Ed25519 key that WebCrypto
// holds, byte for byte as the node's own crypto module makes and checks them (the
// suite signs the W3C test vector and orders with it in Chromium). A page that signs
// loads this file; nothing here touches the page or the network.
"use strict";

(function () {
  const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  // did:key multicodec prefix of an Ed25519 public key.
  const ED25519_PUBLIC = [0xed, 0x01];
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

  /** The `did:key` of a raw 32-byte Ed25519 public key. */
  function didKey(publicKey) {
    return "did:key:z" + base58(concat(ED25519_PUBLIC, publicKey));
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
  async function importSeed(seed, publicKey) {
    const privateKey = await crypto.subtle.importKey("pkcs8", concat(PKCS8_SEED_PREFIX, seed), { name: "Ed25519" }, false, ["sign"]);
    return { privateKey, publicKey };
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
    const did = didKey(key.publicKey);
    const proof = {
      type: "DataIntegrityProof",
      cryptosuite: "eddsa-jcs-2022",
      created: created,
      verificationMethod: verificationMethod || did + "#" + did.slice("did:key:".length),
      proofPurpose: "assertionMethod",
    };
    if ("@context" in unsigned) proof["@context"] = unsigned["@context"];
    const hashData = concat(await sha256(canonicalize(proof)), await sha256(canonicalize(unsigned)));
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, hashData));
    proof.proofValue = "z" + base58(signature);
    unsigned.proof = proof;
    return unsigned;
  }

  window.shulianSigning = Object.freeze({ base58, canonicalize, didKey, timestamp, generateKey, importSeed, signDocument, sha256 });
})();
