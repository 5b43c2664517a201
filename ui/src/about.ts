import { appInfo, toAppError, type AppInfo } from "./ipc/client";

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
  return `Passbridge could not answer (${toAppError(error).message}).`;
}

/** Fills `target` with the app's name, version and build. */
export async function showAbout(target: HTMLElement): Promise<void> {
  try {
    const info = await appInfo();
    target.textContent = describeApp(info);
    target.dataset["state"] = "ready";
  } catch (error) {
    target.textContent = describeError(error);
    target.dataset["state"] = "error";
  }
}
