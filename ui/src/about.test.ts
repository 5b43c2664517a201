// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";

import { describeApp, describeError, osName, showAbout } from "./about";

afterEach(() => clearMocks());

describe("describeApp", () => {
  it("names version, flavour and OS", () => {
    expect(describeApp({ name: "Passbridge", version: "1.2.3", desktop: true, os: "linux" })).toBe(
      "Passbridge 1.2.3 — desktop build on Linux",
    );
  });
  it("keeps unknown OS names as they are", () => {
    expect(osName("freebsd")).toBe("freebsd");
  });
});

describe("showAbout", () => {
  it("shows the answer of the app_info command", async () => {
    mockIPC((cmd) => {
      if (cmd === "app_info") {
        return { name: "Passbridge", version: "0.9.0", desktop: true, os: "macos" };
      }
      throw new Error(`unexpected command ${cmd}`);
    });
    const el = document.createElement("p");
    await showAbout(el);
    expect(el.textContent).toBe("Passbridge 0.9.0 — desktop build on macOS");
    expect(el.dataset["state"]).toBe("ready");
  });

  it("explains a failed call instead of staying silent", async () => {
    mockIPC(() => {
      throw new Error("app_info not allowed");
    });
    const el = document.createElement("p");
    await showAbout(el);
    expect(el.dataset["state"]).toBe("error");
    expect(el.textContent).toBe(describeError(new Error("app_info not allowed")));
  });
});
