import type { AppInfo } from "./ipc/client";

/** The one-line description of the running app shown in the window. */
export function describeApp(info: AppInfo): string {
  const flavour = info.desktop ? "desktop" : "headless";
  return `${info.name} ${info.version} — ${flavour} build on ${osName(info.os)}`;
}

/** A person-friendly operating-system name for Rust's `std::env::consts::OS`. */
export function osName(os: string): string {
  switch (os) {
    case "linux":
      return "Linux";
    case "macos":
      return "macOS";
    case "windows":
      return "Windows";
    default:
      return os;
  }
}

/** Text for a failed call; the detail helps support, the sentence helps the person. */
export function describeError(error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  return `Passbridge could not answer (${detail}).`;
}
