import { describe, expect, it } from "vitest";

import type { PhoneEvent, PhoneStep } from "./ipc/bindings";
import { applyEvent, initialModel, modelFromEvents } from "./state";

function ev(step: PhoneStep, elapsedMs: number, extra: Partial<PhoneEvent> = {}): PhoneEvent {
  return { flow: 7, step, elapsedMs, qrUrl: null, qrSvg: null, message: null, ...extra };
}

const summary = (m: ReturnType<typeof initialModel>) => m.rows.map((r) => `${r.step}:${r.state}`);

describe("phone step model", () => {
  it("starts with every step pending, QR first", () => {
    const m = initialModel(null);
    expect(m.rows.map((r) => r.step)).toEqual([
      "qr-shown",
      "phone-nearby",
      "relay-connected",
      "secure-channel",
      "waiting-for-approval",
      "done",
    ]);
    expect(m.rows.every((r) => r.state === "pending" && r.elapsedMs === null)).toBe(true);
  });

  it("starts with contacting the phone for a linked phone", () => {
    const m = initialModel("Pixel 8");
    expect(m.rows[0]).toEqual({ step: "contacting-phone", label: "Contacting Pixel 8", state: "pending", elapsedMs: null });
    expect(m.rows).toHaveLength(6);
  });

  it("marks the reached step current and the ones before done, keeping the QR", () => {
    const m = modelFromEvents(null, [
      ev("qr-shown", 5, { qrUrl: "FIDO:/123", qrSvg: "<?xml version='1.0'?><svg/>" }),
    ]);
    expect(m.flow).toBe(7);
    expect(m.qrUrl).toBe("FIDO:/123");
    expect(m.qrSvg).toContain("<svg");
    expect(summary(m)[0]).toBe("qr-shown:current");

    const later = applyEvent(m, ev("relay-connected", 2400));
    expect(summary(later)).toEqual([
      "qr-shown:done",
      "phone-nearby:done",
      "relay-connected:current",
      "secure-channel:pending",
      "waiting-for-approval:pending",
      "done:pending",
    ]);
    expect(later.rows[2]?.elapsedMs).toBe(2400);
    expect(later.qrSvg).toBeNull();
    // Pure: the first model did not change.
    expect(summary(m)[0]).toBe("qr-shown:current");
  });

  it("finishes with every step done", () => {
    const m = modelFromEvents("Pixel 8", [
      ev("contacting-phone", 1),
      ev("relay-connected", 900),
      ev("secure-channel", 1000),
      ev("waiting-for-approval", 1100),
      ev("done", 4000, { message: "Signed in." }),
    ]);
    expect(m.rows.every((r) => r.state === "done")).toBe(true);
    expect(m.finished).toBe("done");
    expect(m.message).toBe("Signed in.");
    expect(m.rows[5]?.elapsedMs).toBe(4000);
  });

  it("marks the current step failed on failure", () => {
    const m = modelFromEvents(null, [
      ev("qr-shown", 1, { qrUrl: "FIDO:/1", qrSvg: "<?xml?><svg/>" }),
      ev("phone-nearby", 3000),
      ev("failed", 9000, { message: "The relay could not be reached. Check the relay setting and try again." }),
    ]);
    expect(summary(m)).toEqual([
      "qr-shown:done",
      "phone-nearby:failed",
      "relay-connected:pending",
      "secure-channel:pending",
      "waiting-for-approval:pending",
      "done:pending",
    ]);
    expect(m.finished).toBe("failed");
    expect(m.message).toMatch(/relay/);
  });

  it("fails the first step when nothing was reached, and ignores events after the end", () => {
    const m = modelFromEvents("Pixel 8", [ev("failed", 10, { message: "no phone" }), ev("done", 20)]);
    expect(summary(m)[0]).toBe("contacting-phone:failed");
    expect(m.finished).toBe("failed");
  });

  it("stops at the current step on cancel and drops the QR", () => {
    const m = modelFromEvents(null, [
      ev("qr-shown", 1, { qrUrl: "FIDO:/1", qrSvg: "<?xml?><svg/>" }),
      ev("cancelled", 1500, { message: "Cancelled." }),
    ]);
    expect(m.finished).toBe("cancelled");
    expect(summary(m)[0]).toBe("qr-shown:failed");
    expect(m.rows.slice(1).every((r) => r.state === "pending")).toBe(true);
    expect(m.qrSvg).toBeNull();
  });

  it("switches a linked phone to the QR code when the phone falls back to one", () => {
    const m = modelFromEvents("Pixel 8", [ev("qr-shown", 1, { qrUrl: "FIDO:/9", qrSvg: "<?xml?><svg/>" })]);
    expect(m.rows[0]?.step).toBe("qr-shown");
    expect(m.rows[0]?.state).toBe("current");
  });
});
