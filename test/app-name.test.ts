import { describe, expect, it } from "vitest";
import { appName } from "../src/model/app-name.js";

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
