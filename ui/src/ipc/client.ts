// Thin, typed wrapper over Tauri's invoke. Every call the window makes goes through here.
import { invoke } from "@tauri-apps/api/core";

/** What `app_info` answers (mirrors `passbridge::about::AppInfo`). */
export interface AppInfo {
  name: string;
  version: string;
  desktop: boolean;
  os: string;
}

export function appInfo(): Promise<AppInfo> {
  return invoke<AppInfo>("app_info");
}
