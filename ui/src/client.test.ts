// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";

import { emit } from "@tauri-apps/api/event";

import { PHONE_EVENT, call, isAppError, listPasskeys, onPhoneProgress, renamePasskey, toAppError, type PhoneEvent } from "./ipc/client";

afterEach(() => clearMocks());

describe("toAppError", () => {
  it("keeps a real AppError", () => {
    const e = { code: "wrong-pin", message: "wrong PIN", extra: 1 };
    expect(toAppError(e)).toEqual({ code: "wrong-pin", message: "wrong PIN" });
    expect(isAppError(e)).toBe(true);
  });
  it("wraps anything else as internal", () => {
    expect(toAppError(new Error("boom"))).toEqual({ code: "internal", message: "boom" });
    expect(toAppError("command not found")).toEqual({ code: "internal", message: "command not found" });
    expect(toAppError({ code: "weird", message: "x" })).toEqual({ code: "internal", message: "x" });
    expect(toAppError(undefined).code).toBe("internal");
    expect(toAppError(42).message).not.toBe("");
  });
});

describe("call", () => {
  it("sends the arguments as the payload and nothing for {}", async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return [];
    });
    await listPasskeys();
    await renamePasskey("ab12", "Ana");
    expect(seen[0]?.[0]).toBe("passkeys_list");
    expect(seen[0]?.[1] ?? {}).toEqual({});
    expect(seen[1]).toEqual(["passkey_rename", { id: "ab12", displayName: "Ana" }]);
  });
  it("rejects with an AppError", async () => {
    mockIPC(() => {
      throw { code: "locked", message: "the profile is locked" };
    });
    await expect(call("passkeys_list", {})).rejects.toEqual({ code: "locked", message: "the profile is locked" });
    mockIPC(() => {
      throw new Error("not allowed");
    });
    await expect(call("passkeys_list", {})).rejects.toEqual({ code: "internal", message: "not allowed" });
  });
});

describe("onPhoneProgress", () => {
  it("hands each phone-progress payload to the handler", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen: PhoneEvent[] = [];
    const unlisten = await onPhoneProgress((e) => seen.push(e));
    const event: PhoneEvent = { flow: 2, step: "qr-shown", elapsedMs: 5, qrUrl: "FIDO:/9", qrSvg: "<svg/>", message: null };
    await emit(PHONE_EVENT, event);
    expect(seen).toEqual([event]);
    unlisten();
  });
});

describe("toAppError and every Rust error code", () => {
  it("keeps the codes added later, such as unavailable", () => {
    expect(toAppError({ code: "unavailable", message: "no /dev/uhid" })).toEqual({
      code: "unavailable",
      message: "no /dev/uhid",
    });
  });
});
