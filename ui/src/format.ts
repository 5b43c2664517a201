// Pure formatting: nothing here touches the DOM or the IPC.
import type { AppError, LockState, PasskeyView, PhoneStep, Protection } from "./ipc/bindings";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Now, in Unix seconds. */
export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}

/** "3 Mar 2026" (local time). */
export function formatDate(unixSecs: number): string {
  const d = new Date(unixSecs * 1000);
  return `${d.getDate()} ${MONTHS[d.getMonth()] ?? ""} ${d.getFullYear()}`;
}

/** "09:05" (local time, 24 h). */
export function formatClock(unixSecs: number): string {
  const d = new Date(unixSecs * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
}

/** "just now", "5 minutes ago", "2 hours ago", "yesterday", "3 days ago", or "on 3 Mar 2026". */
export function relativeTime(unixSecs: number, now: number): string {
  const diff = now - unixSecs;
  if (diff < 60) return "just now";
  const minutes = Math.floor(diff / 60);
  if (minutes < 60) return plural(minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return plural(hours, "hour");
  const days = Math.floor(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 30) return plural(days, "day");
  return `on ${formatDate(unixSecs)}`;
}

export function createdLabel(createdAt: number): string {
  return `Created ${formatDate(createdAt)}`;
}

export function lastUsedLabel(lastUsed: number | null, now: number): string {
  return lastUsed === null ? "Never used" : `Last used ${relativeTime(lastUsed, now)}`;
}

function present(s: string | null | undefined): s is string {
  return typeof s === "string" && s.trim() !== "";
}

/** Where a passkey lives: "This computer", "Phone: Pixel 8" or "A phone". */
export function locationLabel(p: Pick<PasskeyView, "location" | "phone">): string {
  if (p.location === "this-computer") return "This computer";
  return present(p.phone) ? `Phone: ${p.phone}` : "A phone";
}

/**
 * The site as the person knows it, named once: its name, with the RP ID after it only where the
 * name does not already contain it ("Example (example.com)", "Example.com", "example.com").
 */
export function siteLabel(rpName: string | null, rpId: string | null): string {
  const id = present(rpId) ? rpId : null;
  if (!present(rpName)) return id ?? "An unnamed site";
  const name = rpName.trim();
  if (id === null || name.toLowerCase().includes(id.toLowerCase())) return name;
  return `${name} (${id})`;
}

/** The display name, else the account name. */
export function accountLabel(displayName: string | null, userName: string | null): string {
  if (present(displayName)) return displayName;
  if (present(userName)) return userName;
  return "Unnamed account";
}

/** "Locks automatically at 14:05", or null when the profile does not lock by itself. */
export function autoLockLabel(autoLockAt: number | null): string | null {
  return autoLockAt === null ? null : `Locks automatically at ${formatClock(autoLockAt)}`;
}

export function lockStateLabel(state: LockState): string {
  switch (state) {
    case "unlocked":
      return "Unlocked";
    case "locked":
      return "Locked";
    case "keychain-unavailable":
      return "Keychain unavailable";
  }
}

export function protectionLabel(protection: Protection): string {
  switch (protection) {
    case "keychain":
      return "Protected by the OS keychain";
    case "keychain-pin":
      return "Protected by the OS keychain and a PIN";
    case "passphrase-only":
      return "Protected by a PIN only";
  }
}

/** "1.2 s". */
export function elapsedLabel(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

/** The label of a phone ceremony step. */
export function stepLabel(step: PhoneStep, phone: string | null = null): string {
  switch (step) {
    case "qr-shown":
      return "QR code shown — scan it with your phone's camera";
    case "contacting-phone":
      return present(phone) ? `Contacting ${phone}` : "Contacting your phone";
    case "phone-nearby":
      return "Phone nearby";
    case "relay-connected":
      return "Connected to the relay";
    case "secure-channel":
      return "Secure channel established";
    case "waiting-for-approval":
      return "Waiting for your approval on the phone";
    case "done":
      return "Done";
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
  }
}

function sentence(s: string): string {
  const t = s.trim();
  if (t === "") return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}

/** The text shown for an error: the sentence from Rust, or a calm wrapper for the unexpected. */
export function errorText(error: AppError): string {
  if (error.code === "internal") {
    return `Passbridge ran into an unexpected problem (${error.message.trim()}). Try again; if it keeps happening, restart Passbridge.`;
  }
  return sentence(error.message);
}
