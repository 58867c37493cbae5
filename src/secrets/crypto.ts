import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export class SecretsError extends Error {}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const HOW_TO_MAKE_ONE = "make one with `openssl rand -hex 32`";
// Changing this label invalidates every stored key check: never change it.
const KEY_CHECK_LABEL = "fly-preview secrets key check v1";

/** PREVIEW_SECRETS_KEY: 32 bytes as 64 hex characters or 44 base64 characters. */
export function parseSecretsKey(raw: string | undefined): Buffer | undefined {
  const text = raw?.trim();
  if (!text) return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const key = Buffer.from(text, "base64");
    if (key.length === KEY_BYTES) return key;
  }
  // The value itself is never repeated: it may be a real key with a typo.
  throw new SecretsError(
    `PREVIEW_SECRETS_KEY must be 32 bytes written as 64 hex characters or 44 base64 characters (got ${text.length} characters); ${HOW_TO_MAKE_ONE}`,
  );
}

/**
 * A fingerprint of the key, stored beside the secrets, so a wrong key is refused at
 * start-up instead of surfacing later as a deploy that cannot decrypt its secrets.
 */
export function keyCheck(key: Buffer): string {
  return createHmac("sha256", key).update(KEY_CHECK_LABEL).digest("hex");
}

export function matchesKeyCheck(key: Buffer, stored: string): boolean {
  const expected = Buffer.from(keyCheck(key), "hex");
  const actual = Buffer.from(stored, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * AES-256-GCM with a fresh IV. `identity` is authenticated but not stored: a value
 * moved to another row (another repository or name) no longer decrypts.
 */
export function seal(key: Buffer, identity: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(identity, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString("base64");
}

/** The plaintext, or undefined when the value was altered, moved, or sealed under another key. */
export function open(key: Buffer, identity: string, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, "base64");
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(identity, "utf8"));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
