import { describe, expect, it } from "vitest";
import { previewSchema, resolveRef } from "../src/config/schema.js";
import { appName, appUrl, isAppKey } from "../src/model/app-name.js";

const FLY_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

describe("preview app names", () => {
  it("name a simple pull request pr-{number}-{owner}-{repo}", () => {
    expect(appName("acme", "web", 42)).toBe("pr-42-acme-web");
  });

  it("lowercase the name and turn other characters into single dashes", () => {
    expect(appName("Acme_Corp", "My.Web__App", 7)).toBe("pr-7-acme-corp-my-web-app");
    expect(appName("acme", "-web.", 1)).toBe("pr-1-acme-web");
    expect(appName("acme", "web-", 1)).toMatch(FLY_NAME);
  });

  it("keep long names within 63 characters, stable and distinct", () => {
    const owner = "a-very-long-organisation-name";
    const repo = "an-even-longer-repository-name-for-the-app";
    const name = appName(owner, repo, 1234);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(FLY_NAME);
    expect(name).not.toMatch(/--/);
    expect(name).toMatch(/^pr-1234-a-very-long-organisation-name-an-even-.*-[0-9a-f]{6}$/);
    expect(appName(owner, repo, 1234)).toBe(name);
    expect(appName(owner.toUpperCase(), repo, 1234)).toBe(name);
    expect(appName(owner, repo, 1235)).not.toBe(name);
    expect(appName(owner, `${repo}-two`, 1234)).not.toBe(name);
  });

  it("never leave a dash before the hash when the cut lands on one", () => {
    for (let length = 40; length < 70; length++) {
      const name = appName("acme", "ab-".repeat(length).slice(0, length), 99);
      expect(name.length, name).toBeLessThanOrEqual(63);
      expect(name, name).toMatch(FLY_NAME);
      expect(name, name).not.toMatch(/--/);
    }
  });

  it("refuse something that is not a pull request number", () => {
    expect(() => appName("acme", "web", 0)).toThrow(RangeError);
    expect(() => appName("acme", "web", 1.5)).toThrow(RangeError);
  });
});

describe("app names of one app among several of a pull request (apps: in .preview.yml)", () => {
  it("name each app pr-{number}-{app}-{owner}-{repo}, leaving names without an app as they were", () => {
    expect(appName("acme", "shop", 42, "api")).toBe("pr-42-api-acme-shop");
    expect(appName("acme", "shop", 42, "web")).toBe("pr-42-web-acme-shop");
    expect(appName("Acme_Corp", "My.Shop", 7, "web-v2")).toBe("pr-7-web-v2-acme-corp-my-shop");
    expect(appName("acme", "shop", 42)).toBe("pr-42-acme-shop");
    expect(appName("acme", "shop", 42, undefined)).toBe("pr-42-acme-shop");
  });

  it("keep each app's long name within 63 characters, the app whole, with a hash of its own", () => {
    const owner = "a-very-long-organisation-name";
    const repo = "an-even-longer-repository-name-for-the-app";
    const apps = ["api", "web", "worker", "a-twenty-char-name-1", "a-twenty-char-name-2"];
    const names = apps.map((app) => appName(owner, repo, 123456, app));
    for (const [index, name] of names.entries()) {
      expect(name.length, name).toBeLessThanOrEqual(63);
      expect(name, name).toMatch(FLY_NAME);
      expect(name, name).not.toMatch(/--/);
      expect(name, name).toMatch(new RegExp(`^pr-123456-${apps[index]}-a-very-long-.*-[0-9a-f]{6}$`));
    }
    // The hash covers the app: no two apps of a pull request share one.
    expect(new Set(names.map((name) => name.slice(-6))).size).toBe(apps.length);
    expect(names).not.toContain(appName(owner, repo, 123456));
    expect(appName(owner.toUpperCase(), repo, 123456, "api")).toBe(names[0]);
  });

  it("refuse an app name with nothing a Fly name can keep", () => {
    expect(() => appName("acme", "shop", 1, "")).toThrow(RangeError);
    expect(() => appName("acme", "shop", 1, "--")).toThrow(RangeError);
  });

  it("give the URL Fly serves an app at", () => {
    expect(appUrl(appName("acme", "shop", 42, "api"))).toBe("https://pr-42-api-acme-shop.fly.dev");
  });
});

describe("an app's name, one rule", () => {
  it("isAppKey (commands, check run names) accepts exactly the names the schema lets apps: have", () => {
    const pattern = new RegExp(resolveRef(previewSchema.properties!.apps!).propertyNames!.pattern!, "u");
    const words = ["api", "web", "web-admin", "a1", "a", "a-1-b", "x".repeat(19), "x".repeat(20), "x".repeat(21), "a".repeat(30)];
    const refused = ["", "1api", "-api", "api-", "web--admin", "Web", "web_admin", "web.admin", "3d", "--fresh", `a${"-b".repeat(10)}`];
    for (const word of [...words, ...refused]) expect(isAppKey(word), word).toBe(pattern.test(word));
    expect(isAppKey("x".repeat(20))).toBe(true);
    expect(isAppKey("x".repeat(21))).toBe(false);
  });
});
