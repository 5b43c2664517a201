import { describe, expect, it } from "vitest";

import {
  accountLabel,
  autoLockLabel,
  createdLabel,
  elapsedLabel,
  errorText,
  formatClock,
  formatDate,
  lastUsedLabel,
  locationLabel,
  relativeTime,
  siteLabel,
  stepLabel,
} from "./format";

/** Unix seconds for a local date and time (the formatting is local, so the tests are too). */
function local(y: number, m: number, d: number, hh = 12, mm = 0): number {
  return Math.floor(new Date(y, m - 1, d, hh, mm).getTime() / 1000);
}

const NOW = local(2026, 3, 10, 15, 30);

describe("relativeTime with a fixed now", () => {
  it.each([
    [NOW, "just now"],
    [NOW - 59, "just now"],
    [NOW + 30, "just now"],
    [NOW - 60, "1 minute ago"],
    [NOW - 5 * 60, "5 minutes ago"],
    [NOW - 3600, "1 hour ago"],
    [NOW - 2 * 3600 - 59, "2 hours ago"],
    [NOW - 24 * 3600, "yesterday"],
    [NOW - 3 * 24 * 3600, "3 days ago"],
  ])("%i → %s", (at, text) => {
    expect(relativeTime(at, NOW)).toBe(text);
  });
  it("falls back to the date after a month", () => {
    expect(relativeTime(local(2026, 1, 2), NOW)).toBe("on 2 Jan 2026");
  });
});

describe("dates", () => {
  it("formats a day", () => {
    expect(formatDate(local(2026, 3, 3))).toBe("3 Mar 2026");
    expect(formatDate(local(2025, 12, 31, 23, 59))).toBe("31 Dec 2025");
  });
  it("formats created and last used", () => {
    expect(createdLabel(local(2026, 3, 3))).toBe("Created 3 Mar 2026");
    expect(lastUsedLabel(NOW - 2 * 3600, NOW)).toBe("Last used 2 hours ago");
    expect(lastUsedLabel(null, NOW)).toBe("Never used");
  });
  it("formats the clock and the auto-lock time", () => {
    expect(formatClock(local(2026, 3, 3, 9, 5))).toBe("09:05");
    expect(autoLockLabel(local(2026, 3, 3, 14, 45))).toBe("Locks automatically at 14:45");
    expect(autoLockLabel(null)).toBeNull();
  });
  it("formats elapsed milliseconds", () => {
    expect(elapsedLabel(1234)).toBe("1.2 s");
    expect(elapsedLabel(0)).toBe("0.0 s");
  });
});

describe("labels", () => {
  it("says where a passkey lives", () => {
    expect(locationLabel({ location: "this-computer", phone: null })).toBe("This computer");
    expect(locationLabel({ location: "phone", phone: "Pixel 8" })).toBe("Phone: Pixel 8");
    expect(locationLabel({ location: "phone", phone: null })).toBe("A phone");
    expect(locationLabel({ location: "phone", phone: "  " })).toBe("A phone");
  });
  it("names the site and account", () => {
    expect(siteLabel("Example", "example.com")).toBe("Example (example.com)");
    expect(siteLabel(null, "example.com")).toBe("example.com");
    expect(siteLabel("example.com", "example.com")).toBe("example.com");
    // Named once, whatever the case or words around it.
    expect(siteLabel("Example example.org", "example.org")).toBe("Example example.org");
    expect(siteLabel("Example.COM", "example.com")).toBe("Example.COM");
    expect(siteLabel("  ", "example.com")).toBe("example.com");
    expect(siteLabel("Example", null)).toBe("Example");
    expect(siteLabel(null, null)).toBe("An unnamed site");
    expect(accountLabel("Ana Lima", "ana@example.com")).toBe("Ana Lima");
    expect(accountLabel(null, "ana@example.com")).toBe("ana@example.com");
    expect(accountLabel("", null)).toBe("Unnamed account");
  });
  it("labels the steps", () => {
    expect(stepLabel("qr-shown")).toBe("QR code shown — scan it with your phone's camera");
    expect(stepLabel("contacting-phone", "Pixel 8")).toBe("Contacting Pixel 8");
    expect(stepLabel("waiting-for-approval")).toBe("Waiting for your approval on the phone");
  });
  it("writes error text as a sentence, and wraps internal errors calmly", () => {
    expect(errorText({ code: "wrong-pin", message: "wrong PIN" })).toBe("Wrong PIN.");
    expect(errorText({ code: "phone-failed", message: "Turn on Bluetooth and try again." })).toBe(
      "Turn on Bluetooth and try again.",
    );
    expect(errorText({ code: "internal", message: "boom" })).toMatch(/^Passbridge ran into an unexpected problem \(boom\)/);
  });
});
