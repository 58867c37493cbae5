import type { Kysely } from "kysely";
import { encodeSecret } from "../fly/secret-lines.js";
import type { Database } from "../store/schema.js";
import { HOW_TO_MAKE_ONE, keyCheck, matchesKeyCheck, open, seal, SecretsError } from "./crypto.js";

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEY_CHECK = "secrets_key_check";
const WRONG_KEY = "PREVIEW_SECRETS_KEY does not match the key the stored secrets were encrypted with";

/**
 * Per-repository secret values, encrypted with PREVIEW_SECRETS_KEY. Values leave this
 * class only through `resolve`, for a deploy; everything else sees names.
 */
export class SecretStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly key: Buffer | undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Call at start-up (server and CLI): throws SecretsError when secrets are stored and the key is missing, or the key does not match. */
  async check(): Promise<void> {
    const stored = await this.db.selectFrom("secrets").select("name").limit(1).executeTakeFirst();
    if (!stored) return;
    if (!this.key) {
      throw new SecretsError(
        "secrets are stored but PREVIEW_SECRETS_KEY is not set: set it to the key they were encrypted with",
      );
    }
    const check = await this.storedKeyCheck(this.db);
    if (check !== undefined && !matchesKeyCheck(this.key, check)) throw new SecretsError(WRONG_KEY);
  }

  async set(owner: string, repo: string, name: string, value: string): Promise<void> {
    if (!SECRET_NAME.test(name)) {
      throw new SecretsError(`"${name}" is not a valid secret name: letters, digits and _, not starting with a digit`);
    }
    // Refused now rather than at every deploy, where flyctl would store it altered.
    const encoding = encodeSecret(name, value);
    if (encoding.form === "none") {
      throw new SecretsError(`the value of ${name} cannot reach Fly.io unchanged, so it was not stored: ${encoding.reason}`);
    }
    const key = this.requireKey();
    const row = { ...canonical(owner, repo), name };
    await this.db.transaction().execute(async (trx) => {
      // Written with the first secret, and checked on every write, so that two keys
      // never end up encrypting values in the same store.
      const check = await this.storedKeyCheck(trx);
      if (check === undefined) await trx.insertInto("meta").values({ key: KEY_CHECK, value: keyCheck(key) }).execute();
      else if (!matchesKeyCheck(key, check)) throw new SecretsError(WRONG_KEY);
      const sealed = { value: seal(key, identity(row), value), updated_at: this.clock() };
      await trx
        .insertInto("secrets")
        .values({ ...row, ...sealed })
        .onConflict((oc) => oc.columns(["owner", "repo", "name"]).doUpdateSet(sealed))
        .execute();
    });
  }

  /** False when it did not exist. */
  async unset(owner: string, repo: string, name: string): Promise<boolean> {
    const row = { ...canonical(owner, repo), name };
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .deleteFrom("secrets")
        .where("owner", "=", row.owner)
        .where("repo", "=", row.repo)
        .where("name", "=", row.name)
        .executeTakeFirst();
      // With nothing left encrypted the key check guards nothing; dropping it lets
      // the operator start over with a new key.
      const left = await trx.selectFrom("secrets").select("name").limit(1).executeTakeFirst();
      if (!left) await trx.deleteFrom("meta").where("key", "=", KEY_CHECK).execute();
      return Number(result.numDeletedRows) > 0;
    });
  }

  /** Names and when they last changed, by name; never values. */
  async list(owner: string, repo: string): Promise<Array<{ name: string; updatedAt: number }>> {
    const { owner: o, repo: r } = canonical(owner, repo);
    const rows = await this.db
      .selectFrom("secrets")
      .select(["name", "updated_at"])
      .where("owner", "=", o)
      .where("repo", "=", r)
      .orderBy("name")
      .execute();
    return rows.map((row) => ({ name: row.name, updatedAt: row.updated_at }));
  }

  /**
   * Decrypts the named values; `missing` lists names not stored (sorted). The key is
   * needed only when one of the names is stored.
   */
  async resolve(owner: string, repo: string, names: string[]): Promise<{ values: Record<string, string>; missing: string[] }> {
    const values: Record<string, string> = {};
    if (names.length === 0) return { values, missing: [] };
    const { owner: o, repo: r } = canonical(owner, repo);
    const rows = await this.db
      .selectFrom("secrets")
      .select(["name", "value"])
      .where("owner", "=", o)
      .where("repo", "=", r)
      .where("name", "in", names)
      .execute();
    if (rows.length > 0) {
      const key = this.requireKey();
      for (const row of rows) {
        const plaintext = open(key, identity({ owner: o, repo: r, name: row.name }), row.value);
        if (plaintext === undefined) {
          throw new SecretsError(
            `the secret ${row.name} of ${o}/${r} cannot be decrypted: it was altered or copied from another repository or name, or encrypted with another key; set it again with \`fly-preview secrets set ${o}/${r} ${row.name}\``,
          );
        }
        values[row.name] = plaintext;
      }
    }
    const missing = [...new Set(names)].filter((name) => !(name in values)).sort();
    return { values, missing };
  }

  private requireKey(): Buffer {
    if (!this.key) throw new SecretsError(`PREVIEW_SECRETS_KEY is not set, and secrets cannot be encrypted or decrypted without it; ${HOW_TO_MAKE_ONE}`);
    return this.key;
  }

  private async storedKeyCheck(db: Kysely<Database>): Promise<string | undefined> {
    const row = await db.selectFrom("meta").select("value").where("key", "=", KEY_CHECK).executeTakeFirst();
    return row?.value;
  }
}

// GitHub owner and repository names ignore case: `Acme/Web` typed by an operator is
// the repository webhooks call `acme/web`. Secret names are environment variable
// names, whose case matters.
function canonical(owner: string, repo: string): { owner: string; repo: string } {
  return { owner: owner.toLowerCase(), repo: repo.toLowerCase() };
}

function identity(row: { owner: string; repo: string; name: string }): string {
  return `${row.owner}/${row.repo}:${row.name}`;
}
